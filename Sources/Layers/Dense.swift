import Kernels
import Tensor

/// Fully connected: y = act(x · W + b), x flattened to [N, in], W is [in, units].
/// Backward: dY ⊙= [y > 0] (fused ReLU); dW += xᵀ · dY; db += Σ rows dY; dx += dY · Wᵀ.
public struct Dense: Layer {
    public static let kind = "dense"
    public static let summary = "fully connected layer (GEMM), optional fused activation"
    public static let options: [LayerOption<Dense>] = [
        .positiveInt("units", \.units, default: nil, "output features"),
        .activation(\.activation),
        .bool("use_bias", \.useBias, default: true, "add a learned bias per unit"),
        .initializer(\.initializer, default: .glorotUniform),
    ]
    public static let gradientCheckCases = [
        GradientCheckCase(["units": "4"], inputs: [[6]]), GradientCheckCase(["units": "3", "activation": "relu"], inputs: [[5]]),
        GradientCheckCase(["units": "3", "activation": "gelu"], inputs: [[5]]),
    ]

    public var units = 0
    public var activation = Activation.linear
    public var useBias = true
    public var initializer = Initializer.glorotUniform
    public init() {}

    public func validate(_ options: some OptionSource) throws {
        if initializer == .whiten {
            throw options.invalid("init", "init: whiten is for convolutions (it whitens image patches)", hint: "use glorot_uniform, he_uniform or dirac")
        }
    }

    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape {
        guard inputs[0].rank == 1 else {
            throw ShapeError("dense needs a flat input, got \(inputs[0])", hint: "add '- flatten: {}' before this layer")
        }
        return [units]
    }

    public func parameters(inputs: [Shape]) -> [ParameterSpec] {
        let features = inputs[0].count
        var specs = [ParameterSpec("weight", shape: [features, units], initializer: initializer, fanIn: features, fanOut: units, decays: true)]
        if useBias { specs.append(ParameterSpec("bias", shape: [units], initializer: .zeros)) }
        return specs
    }

    public func flops(inputs: [Shape], output: Shape) -> Int { 2 * inputs[0].count * units }

    /// With a fused GELU, the pre-activation output for backward.
    public func buffers(inputs: [Shape], output: Shape, capacity: Int, workers: Int) -> [BufferSpec] {
        [BufferSpec("pre_activation", floats: activation.preActivationFloats(capacity * units), role: .saved)]
    }

    /// Workers split the units (columns of y and W): each computes y[:, its units] = x · W[:, its
    /// units] and adds bias and ReLU there. Splitting columns rather than examples means no
    /// worker packs all of W, and the weight gradient needs no partial sums.
    public func forward(_ io: LayerIO, _ context: StepContext) {
        context.compute.pool.run(DenseForward(layer: self, io: io, batch: context.batch, compute: context.compute))
    }

    /// Per worker, on its units: dY ⊙= [y > 0] (ReLU) or Φ(x) + x·φ(x) (GELU, x kept); db += Σ rows dY; dW[:, units] += xᵀ · dY[:, units].
    /// Then, once every dY column is masked, dx[:, features] += dY · W[features, :]ᵀ, the
    /// features split between workers.
    public func backward(_ io: LayerIO, _ context: StepContext) {
        context.compute.pool.run(DenseBackward(layer: self, io: io, batch: context.batch, compute: context.compute, part: .weights))
        guard io.inputGradients[0] != nil else { return }
        context.compute.pool.run(DenseBackward(layer: self, io: io, batch: context.batch, compute: context.compute, part: .input))
    }
}

/// Dense's forward on one worker's units.
struct DenseForward: ParallelWork {
    let layer: Dense, io: LayerIO, batch: Int, compute: ComputeEngine

    func run(worker: Int, of workers: Int) {
        let n = batch, features = io.inputShapes[0].count, units = layer.units
        let x = io.inputs[0].baseAddress!, weight = io.parameters[0].baseAddress!, y = io.output.baseAddress!
        let bias = layer.useBias ? io.parameters[1].baseAddress! : nil
        let relu = layer.activation == .relu, pre = layer.activation == .gelu ? io.buffers[0].baseAddress! : nil
        let columns = compute.columnShare(of: worker, columns: units)
        guard !columns.isEmpty else { return }
        let c0 = columns.lowerBound, width = columns.count
        compute.gemm(worker: worker, m: n, n: width, k: features, x, lda: features, weight + c0, ldb: units, beta: 0, y + c0, ldc: units)
        for r in 0 ..< n {
            let row = y + r * units + c0
            if let bias {
                for c in 0 ..< width { row[c] += bias[c0 + c] }
            }
            if relu { for c in 0 ..< width { row[c] = max(row[c], 0) } }
            if let pre { geluInPlace(row, count: width, saving: pre + r * units + c0) }
        }
    }
}

/// Dense's backward on one worker: first the weight and bias gradients of its units, then (a
/// second run, once every dY column is masked) the input gradient of its features.
struct DenseBackward: ParallelWork {
    enum Part { case weights, input }
    let layer: Dense, io: LayerIO, batch: Int, compute: ComputeEngine, part: Part

    func run(worker: Int, of workers: Int) {
        let n = batch, features = io.inputShapes[0].count, units = layer.units
        let x = io.inputs[0].baseAddress!, weight = io.parameters[0].baseAddress!, y = io.output.baseAddress!
        let dY = io.outputGradient!.baseAddress!
        let pre = layer.activation == .gelu ? UnsafePointer(io.buffers[0].baseAddress!) : nil
        switch part {
        case .weights:
            let dWeight = io.parameterGradients[0]!.baseAddress!
            let dBias = layer.useBias ? io.parameterGradients[1]!.baseAddress! : nil
            let columns = compute.columnShare(of: worker, columns: units)
            guard !columns.isEmpty else { return }
            let c0 = columns.lowerBound, width = columns.count
            for r in 0 ..< n {
                let row = dY + r * units + c0
                if layer.activation == .relu {
                    let out = y + r * units + c0
                    for c in 0 ..< width where !(out[c] > 0) { row[c] = 0 }
                }
                if let pre { geluGradientInPlace(pre + r * units + c0, count: width, row) }
                if let dBias { for c in 0 ..< width { dBias[c0 + c] += row[c] } }
            }
            compute.gemm(
                worker: worker, transposeA: true, m: features, n: width, k: n, x, lda: features, dY + c0, ldb: units, beta: 1, dWeight + c0, ldc: units)
        case .input:
            let dX = io.inputGradients[0]!.baseAddress!
            let part = compute.columnShare(of: worker, columns: features)
            guard !part.isEmpty else { return }
            // B[p, j] = W[f0 + j, p]: the rows of W for this worker's features, transposed.
            compute.gemm(
                worker: worker, transposeB: true, m: n, n: part.count, k: units, dY, lda: units,
                weight + part.lowerBound * units, ldb: units, beta: 1, dX + part.lowerBound, ldc: features)
        }
    }
}

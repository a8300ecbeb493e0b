import Kernels
import Tensor

/// Fully connected: y = act(x · W + b), x flattened to [N, in], W is [in, units].
/// Backward: dY ⊙= [y > 0] (fused ReLU); dW += xᵀ · dY; db += Σ rows dY; dx += dY · Wᵀ.
public struct Dense: Layer {
    public static let kind = "dense"
    public static let summary = "fully connected layer (GEMM), optional fused activation"
    public static let optionKeys = [
        OptionDoc("units", "required", "output features"),
        OptionDoc("activation", "linear", "linear or relu, fused after the GEMM"),
        OptionDoc("use_bias", "true", "add a learned bias per unit"),
        OptionDoc("init", "glorot_uniform", Initializer.allCases.map(\.rawValue).joined(separator: ", ")),
    ]
    public static let gradientCheckCases = [GradientCheckCase(["units": "4"], inputs: [[6]]), GradientCheckCase(["units": "3", "activation": "relu"], inputs: [[5]])]

    public var units: Int
    public var activation: Activation
    public var useBias: Bool
    public var initializer: Initializer

    public init(options: some OptionSource) throws {
        units = try options.positiveInt("units", default: nil)
        activation = try options.activation()
        useBias = try options.bool("use_bias", default: true)
        initializer = try options.initializer(default: .glorotUniform)
    }

    public var resolvedOptions: [(String, OptionValue)] {
        [("units", .int(units)), ("activation", .string(activation.rawValue)), ("use_bias", .bool(useBias)), ("init", .string(initializer.rawValue))]
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

    /// Workers split the units (columns of y and W): each computes y[:, its units] = x · W[:, its
    /// units] and adds bias and ReLU there. Splitting columns rather than examples means no
    /// worker packs all of W, and the weight gradient needs no partial sums.
    public func forward(_ io: LayerIO, _ context: StepContext) {
        let compute = context.compute
        let n = context.batch, features = io.inputShapes[0].count, units = units
        let x = io.inputs[0].baseAddress!, weight = io.parameters[0].baseAddress!, y = io.output.baseAddress!
        let bias = useBias ? io.parameters[1].baseAddress! : nil
        let relu = activation == .relu
        compute.pool.run { worker in
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
            }
        }
    }

    /// Per worker, on its units: dY ⊙= [y > 0]; db += Σ rows dY; dW[:, units] += xᵀ · dY[:, units].
    /// Then, once every dY column is masked, dx[:, features] += dY · W[features, :]ᵀ, the
    /// features split between workers.
    public func backward(_ io: LayerIO, _ context: StepContext) {
        let compute = context.compute
        let n = context.batch, features = io.inputShapes[0].count, units = units
        let x = io.inputs[0].baseAddress!, weight = io.parameters[0].baseAddress!, y = io.output.baseAddress!
        let dY = io.outputGradient!.baseAddress!
        let dWeight = io.parameterGradients[0]!.baseAddress!
        let dBias = useBias ? io.parameterGradients[1]!.baseAddress! : nil
        let relu = activation == .relu
        compute.pool.run { worker in
            let columns = compute.columnShare(of: worker, columns: units)
            guard !columns.isEmpty else { return }
            let c0 = columns.lowerBound, width = columns.count
            for r in 0 ..< n {
                let row = dY + r * units + c0
                if relu {
                    let out = y + r * units + c0
                    for c in 0 ..< width where !(out[c] > 0) { row[c] = 0 }
                }
                if let dBias { for c in 0 ..< width { dBias[c0 + c] += row[c] } }
            }
            compute.gemm(worker: worker, transposeA: true, m: features, n: width, k: n, x, lda: features, dY + c0, ldb: units, beta: 1, dWeight + c0, ldc: units)
        }
        guard let dX = io.inputGradients[0]?.baseAddress else { return }
        compute.pool.run { worker in
            let part = compute.columnShare(of: worker, columns: features)
            guard !part.isEmpty else { return }
            // B[p, j] = W[f0 + j, p]: the rows of W for this worker's features, transposed.
            compute.gemm(worker: worker, transposeB: true, m: n, n: part.count, k: units, dY, lda: units,
                         weight + part.lowerBound * units, ldb: units, beta: 1, dX + part.lowerBound, ldc: features)
        }
    }
}

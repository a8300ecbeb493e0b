import Kernels
import Tensor

/// Fully connected: y = act(x · W + b), x flattened to [N, in], W is [in, units].
/// Backward: dY ⊙= [y > 0] (fused ReLU); dW += xᵀ · dY; db += Σ rows dY; dx += dY · Wᵀ.
public struct Dense: Layer {
    public static let kind = "dense"
    public static let summary = "fully connected layer (BLAS sgemm), optional fused activation"
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

    public func forward(_ io: LayerIO, _ context: StepContext) {
        let n = context.batch, features = io.inputShapes[0].count
        let y = io.output.baseAddress!
        gemm(m: n, n: units, k: features, io.inputs[0].baseAddress!, lda: features, io.parameters[0].baseAddress!, ldb: units, beta: 0, y, ldc: units)
        if useBias {
            addBias(y, rows: n, columns: units, io.parameters[1].baseAddress!, relu: activation == .relu)
        } else if activation == .relu {
            reluForward(y, count: n * units, y)
        }
    }

    public func backward(_ io: LayerIO, _ context: StepContext) {
        let n = context.batch, features = io.inputShapes[0].count
        let dY = io.outputGradient!.baseAddress!
        if activation == .relu { reluMaskInPlace(io.output.baseAddress!, count: n * units, dY) }
        if useBias { addBiasGradient(dY, rows: n, columns: units, io.parameterGradients[1]!.baseAddress!) }
        gemm(transposeA: true, m: features, n: units, k: n, io.inputs[0].baseAddress!, lda: features, dY, ldb: units, beta: 1, io.parameterGradients[0]!.baseAddress!, ldc: units)
        if let dX = io.inputGradients[0] {
            gemm(transposeB: true, m: n, n: features, k: units, dY, lda: units, io.parameters[0].baseAddress!, ldb: units, beta: 1, dX.baseAddress!, ldc: features)
        }
    }
}

import Kernels
import Tensor

/// Batch normalisation over every axis but the last (channels):
/// training uses the batch's mean and variance and updates running statistics; inference uses
/// the running statistics. y = γ · (x − μ) / √(σ² + ε) + β. Formulas in Kernels/BatchNorm.swift.
/// With `scale: false`, γ stays 1: it is kept with the running statistics, not trained
/// (airbench freezes it), and its gradient goes to scratch.
public struct BatchNorm: Layer {
    public static let kind = "batchnorm"
    public static let summary = "batch normalisation per channel, running statistics for inference"
    public static let options: [LayerOption<BatchNorm>] = [
        .rate("momentum", \.momentum, default: 0.9, "running = momentum · running + (1 − momentum) · batch"),
        .double("epsilon", \.epsilon, default: 1e-3, "added to the variance", refuse: { $0 > 0 ? nil : "must be positive" }, example: "0.001"),
        .bool("scale", \.learnsScale, default: true, "learn γ; false keeps it at 1"),
    ]
    public static let gradientCheckCases = [
        GradientCheckCase(inputs: [[3, 3, 4]]), GradientCheckCase(inputs: [[5]]), GradientCheckCase(["scale": "false"], inputs: [[2, 2, 3]]),
    ]
    public var momentum = 0.9
    public var epsilon = 1e-3
    public var learnsScale = true
    public init() {}
    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { inputs[0] }

    public func parameters(inputs: [Shape]) -> [ParameterSpec] {
        let c = inputs[0].channels
        return [
            ParameterSpec("gamma", shape: [c], initializer: .ones, trainable: learnsScale),
            ParameterSpec("beta", shape: [c], initializer: .zeros),
            ParameterSpec("running_mean", shape: [c], initializer: .zeros, trainable: false),
            ParameterSpec("running_variance", shape: [c], initializer: .ones, trainable: false),
        ]
    }

    public func buffers(inputs: [Shape], output: Shape, capacity: Int, workers: Int) -> [BufferSpec] {
        let c = output.channels
        return [
            BufferSpec("mean", floats: c, role: .saved), BufferSpec("inverse_std", floats: c, role: .saved),
            BufferSpec("sums", floats: 2 * c, role: .scratch),
            // Where a frozen γ's gradient goes (nothing reads it).
            BufferSpec("frozen_scale_gradient", floats: learnsScale ? 0 : c, role: .scratch),
        ]
    }

    public func flops(inputs: [Shape], output: Shape) -> Int { 4 * output.count }

    public func forward(_ io: LayerIO, _ context: StepContext) {
        let c = io.outputShape.channels, rows = context.batch * io.outputShape.count / c
        // (Each parameter by its index: mapping the array would allocate on every step.)
        let gamma = io.parameters[0].baseAddress!, beta = io.parameters[1].baseAddress!
        let runningMean = io.parameters[2].baseAddress!, runningVariance = io.parameters[3].baseAddress!
        if context.training {
            batchNormTrainForward(
                io.inputs[0].baseAddress!, rows: rows, channels: c, gamma: gamma, beta: beta,
                epsilon: Float(epsilon), momentum: Float(momentum), runningMean: runningMean, runningVariance: runningVariance,
                savedMean: io.buffers[0].baseAddress!, savedInverseStd: io.buffers[1].baseAddress!, io.output.baseAddress!)
        } else {
            batchNormInferenceForward(
                io.inputs[0].baseAddress!, rows: rows, channels: c, gamma: gamma, beta: beta, epsilon: Float(epsilon),
                runningMean: runningMean, runningVariance: runningVariance, io.output.baseAddress!)
        }
    }

    public func backward(_ io: LayerIO, _ context: StepContext) {
        let c = io.outputShape.channels, rows = context.batch * io.outputShape.count / c
        batchNormBackward(
            io.inputs[0].baseAddress!, io.outputGradient!.baseAddress!, rows: rows, channels: c,
            gamma: io.parameters[0].baseAddress!, savedMean: io.buffers[0].baseAddress!, savedInverseStd: io.buffers[1].baseAddress!,
            dGamma: io.parameterGradients[0]?.baseAddress ?? io.buffers[3].baseAddress!, dBeta: io.parameterGradients[1]!.baseAddress!,
            scratch: io.buffers[2].baseAddress!, io.inputGradients[0]?.baseAddress)
    }
}

import Kernels
import Tensor

/// Batch normalisation over every axis but the last (channels):
/// training uses the batch's mean and variance and updates running statistics; inference uses
/// the running statistics. y = γ · (x − μ) / √(σ² + ε) + β. Formulas in Kernels/BatchNorm.swift.
/// With `scale: false`, γ stays 1: it is kept with the running statistics, not trained
/// (airbench freezes it), and its gradient goes to scratch. Channels are shared out across
/// the workers (statistics sum over the whole batch, so examples cannot be).
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
        GradientCheckCase(inputs: [[2, 2, 40]]),  // three channel blocks, shared out over the workers
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
        context.compute.pool.run(
            Forward(
                x: io.inputs[0].baseAddress!, y: io.output.baseAddress!, rows: rows, channels: c,
                gamma: io.parameters[0].baseAddress!, beta: io.parameters[1].baseAddress!,
                runningMean: io.parameters[2].baseAddress!, runningVariance: io.parameters[3].baseAddress!,
                mean: io.buffers[0].baseAddress!, inverseStd: io.buffers[1].baseAddress!,
                epsilon: Float(epsilon), momentum: Float(momentum), training: context.training))
    }

    public func backward(_ io: LayerIO, _ context: StepContext) {
        let c = io.outputShape.channels, rows = context.batch * io.outputShape.count / c
        context.compute.pool.run(
            Backward(
                x: io.inputs[0].baseAddress!, dy: io.outputGradient!.baseAddress!, dx: io.inputGradients[0]?.baseAddress, rows: rows,
                channels: c, gamma: io.parameters[0].baseAddress!, mean: io.buffers[0].baseAddress!, inverseStd: io.buffers[1].baseAddress!,
                dGamma: io.parameterGradients[0]?.baseAddress ?? io.buffers[3].baseAddress!, dBeta: io.parameterGradients[1]!.baseAddress!,
                scratch: io.buffers[2].baseAddress!))
    }

    /// Channels are shared out in blocks of 16 (a vector's width): each channel's statistics
    /// are its own, so a worker normalises its block over every row, and the result is the same
    /// for any number of workers.
    static func channelBlocks(_ share: Range<Int>, channels: Int) -> (first: Int, count: Int) {
        let first = share.lowerBound * 16
        return (first, min(channels, share.upperBound * 16) - first)
    }

    struct Forward: ParallelShares {
        let x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, rows: Int, channels: Int
        let gamma: UnsafeMutablePointer<Float>, beta: UnsafeMutablePointer<Float>
        let runningMean: UnsafeMutablePointer<Float>, runningVariance: UnsafeMutablePointer<Float>
        let mean: UnsafeMutablePointer<Float>, inverseStd: UnsafeMutablePointer<Float>
        let epsilon: Float, momentum: Float, training: Bool
        var total: Int { (channels + 15) / 16 }

        func run(worker: Int, share: Range<Int>) {
            let (f, n) = BatchNorm.channelBlocks(share, channels: channels)
            if training {
                batchNormTrainForward(
                    x + f, rows: rows, channels: n, stride: channels, gamma: gamma + f, beta: beta + f, epsilon: epsilon,
                    momentum: momentum, runningMean: runningMean + f, runningVariance: runningVariance + f,
                    savedMean: mean + f, savedInverseStd: inverseStd + f, y + f)
            } else {
                batchNormInferenceForward(
                    x + f, rows: rows, channels: n, stride: channels, gamma: gamma + f, beta: beta + f, epsilon: epsilon,
                    runningMean: runningMean + f, runningVariance: runningVariance + f, y + f)
            }
        }
    }

    struct Backward: ParallelShares {
        let x: UnsafeMutablePointer<Float>, dy: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>?, rows: Int, channels: Int
        let gamma: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>, inverseStd: UnsafeMutablePointer<Float>
        let dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>
        var total: Int { (channels + 15) / 16 }

        func run(worker: Int, share: Range<Int>) {
            let (f, n) = BatchNorm.channelBlocks(share, channels: channels)
            batchNormBackward(
                x + f, dy + f, rows: rows, channels: n, stride: channels, gamma: gamma + f, savedMean: mean + f,
                savedInverseStd: inverseStd + f, dGamma: dGamma + f, dBeta: dBeta + f, scratch: scratch + 2 * f, dx.map { $0 + f })
        }
    }
}

import Kernels
import Tensor

/// Rectified linear unit: y = max(x, 0); dx += dy · [y > 0].
public struct ReLU: Layer {
    public static let kind = "relu"
    public static let summary = "rectified linear unit, y = max(x, 0)"
    public static let gradientCheckCases = [GradientCheckCase(inputs: [[3, 4, 2]])]

    public init() {}

    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { inputs[0] }

    public func forward(_ io: LayerIO, _ context: StepContext) {
        reluForward(io.inputs[0].baseAddress!, count: context.batch * io.outputShape.count, io.output.baseAddress!)
    }

    public func backward(_ io: LayerIO, _ context: StepContext) {
        guard let dX = io.inputGradients[0] else { return }
        reluBackward(io.output.baseAddress!, io.outputGradient!.baseAddress!, count: context.batch * io.outputShape.count, dX.baseAddress!)
    }
}

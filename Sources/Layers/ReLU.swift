import Kernels
import Tensor

/// Rectified linear unit: y = max(x, 0); dx += dy · [y > 0].
public struct ReLU: ExampleWise {
    public static let kind = "relu"
    public static let summary = "rectified linear unit, y = max(x, 0)"
    public static let gradientCheckCases = [GradientCheckCase(inputs: [[3, 4, 2]])]

    public init() {}

    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { inputs[0] }

    public func forward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        let size = io.outputShape.count, first = examples.lowerBound * size
        reluForward(io.inputs[0].baseAddress! + first, count: examples.count * size, io.output.baseAddress! + first)
    }

    public func backward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        guard let dX = io.inputGradients[0] else { return }
        let size = io.outputShape.count, first = examples.lowerBound * size
        reluBackward(io.output.baseAddress! + first, io.outputGradient!.baseAddress! + first, count: examples.count * size, dX.baseAddress! + first)
    }
}

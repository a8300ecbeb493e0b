import Kernels
import Tensor

/// [H, W, C] → [H·W·C] in NHWC order (the same order Keras flattens in). A copy, dx += dy.
public struct Flatten: ExampleWise {
    public static let kind = "flatten"
    public static let summary = "reshape to a vector (row-major NHWC order)"
    public static let gradientCheckCases = [GradientCheckCase(inputs: [[2, 3, 4]])]

    public init() {}
    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { [inputs[0].count] }

    public func forward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        let size = io.outputShape.count, first = examples.lowerBound * size
        (io.output.baseAddress! + first).update(from: io.inputs[0].baseAddress! + first, count: examples.count * size)
    }

    public func backward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        guard let dX = io.inputGradients[0] else { return }
        let size = io.outputShape.count, first = examples.lowerBound * size
        accumulate(io.outputGradient!.baseAddress! + first, count: examples.count * size, into: dX.baseAddress! + first)
    }
}

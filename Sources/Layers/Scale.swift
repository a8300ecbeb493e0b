import Kernels
import Tensor

/// A constant factor: y = factor · x; dx += factor · dy. (airbench's head ends in × 1/9: a
/// fixed temperature on the logits, which no learned layer should absorb.)
public struct Scale: ExampleWise {
    public static let kind = "scale"
    public static let summary = "multiply by a constant, y = factor · x"
    public static let options: [LayerOption<Scale>] = [
        .double(
            "factor", \.factor, default: 1, "the constant", refuse: { $0 != 0 ? nil : "must not be 0" }, example: "0.111")
    ]
    public static let gradientCheckCases = [GradientCheckCase(["factor": "-0.25"], inputs: [[3, 2, 2]])]
    public var factor = 1.0
    public init() {}

    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { inputs[0] }
    public func flops(inputs: [Shape], output: Shape) -> Int { output.count }

    public func forward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        let size = io.outputShape.count, first = examples.lowerBound * size
        scale(io.inputs[0].baseAddress! + first, by: Float(factor), count: examples.count * size, io.output.baseAddress! + first)
    }

    public func backward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        guard let dX = io.inputGradients[0] else { return }
        let size = io.outputShape.count, first = examples.lowerBound * size
        scaleAdd(io.outputGradient!.baseAddress! + first, by: Float(factor), count: examples.count * size, dX.baseAddress! + first)
    }
}

import Kernels
import Tensor

/// Global average pooling: [H, W, C] → [C], y[c] = mean over pixels of x[·, ·, c].
public struct GlobalAvgPool: ExampleWise {
    public static let kind = "global_avgpool"
    public static let summary = "mean over height and width, [H, W, C] → [C]"
    public static let gradientCheckCases = [GradientCheckCase(inputs: [[3, 4, 5]])]

    public init() {}

    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape {
        guard inputs[0].rank == 3 else {
            throw ShapeError("global_avgpool needs a height×width×channels input, got \(inputs[0])", hint: "use it before flatten/dense")
        }
        return [inputs[0][2]]
    }
    public func flops(inputs: [Shape], output: Shape) -> Int { inputs[0].count }

    public func forward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        let s = io.inputShapes[0], first = examples.lowerBound
        globalAvgPoolForward(
            io.inputs[0].baseAddress! + first * s.count, pixels: s[0] * s[1], channels: s[2], batch: examples.count, io.output.baseAddress! + first * s[2])
    }

    public func backward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        guard let dX = io.inputGradients[0] else { return }
        let s = io.inputShapes[0], first = examples.lowerBound
        globalAvgPoolBackward(
            io.outputGradient!.baseAddress! + first * s[2], pixels: s[0] * s[1], channels: s[2], batch: examples.count, dX.baseAddress! + first * s.count)
    }
}

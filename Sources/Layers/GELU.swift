import Kernels
import Tensor

/// Gaussian error linear unit: y = x · Φ(x), Φ the standard normal CDF (the exact form, as
/// PyTorch's default); dx += dy · (Φ(x) + x · φ(x)). Backward reads the input.
public struct GELU: ExampleWise {
    public static let kind = "gelu"
    public static let summary = "Gaussian error linear unit, y = x · Φ(x) (exact, erf-based)"
    public static let gradientCheckCases = [GradientCheckCase(inputs: [[3, 4, 2]]), GradientCheckCase(inputs: [[9]])]
    public init() {}

    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { inputs[0] }
    /// erf, exp and a few multiplies per element, counted as 8.
    public func flops(inputs: [Shape], output: Shape) -> Int { 8 * output.count }

    public func forward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        let size = io.outputShape.count, first = examples.lowerBound * size
        geluForward(io.inputs[0].baseAddress! + first, count: examples.count * size, io.output.baseAddress! + first)
    }

    public func backward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        guard let dX = io.inputGradients[0] else { return }
        let size = io.outputShape.count, first = examples.lowerBound * size
        geluBackward(io.inputs[0].baseAddress! + first, io.outputGradient!.baseAddress! + first, count: examples.count * size, dX.baseAddress! + first)
    }
}

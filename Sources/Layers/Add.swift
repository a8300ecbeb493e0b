import Kernels
import Tensor

/// Elementwise sum of two inputs of equal shape (residual joins): y = a + b; da += dy, db += dy.
public struct Add: ExampleWise {
    public static let kind = "add"
    public static let summary = "elementwise sum of two inputs of the same shape"
    public static let gradientCheckCases = [GradientCheckCase(inputs: [[3, 3, 2], [3, 3, 2]])]
    public static let inputCount = 2 ... 2

    public init() {}

    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape {
        guard inputs[0] == inputs[1] else {
            throw ShapeError(
                "add needs inputs of the same shape, got \(inputs[0]) and \(inputs[1])",
                hint: "make both branches end in the same shape (a 1×1 conv can match the channels)")
        }
        return inputs[0]
    }
    public func flops(inputs: [Shape], output: Shape) -> Int { output.count }

    public func forward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        let size = io.outputShape.count, first = examples.lowerBound * size
        add(io.inputs[0].baseAddress! + first, io.inputs[1].baseAddress! + first, count: examples.count * size, io.output.baseAddress! + first)
    }

    public func backward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        let size = io.outputShape.count, first = examples.lowerBound * size
        for case let dX? in io.inputGradients {
            accumulate(io.outputGradient!.baseAddress! + first, count: examples.count * size, into: dX.baseAddress! + first)
        }
    }
}

import Kernels
import Tensor

/// Elementwise sum of two inputs of equal shape (residual joins): y = a + b; da += dy, db += dy.
public struct Add: Layer {
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

    public func forward(_ io: LayerIO, _ context: StepContext) {
        add(io.inputs[0].baseAddress!, io.inputs[1].baseAddress!, count: context.batch * io.outputShape.count, io.output.baseAddress!)
    }

    public func backward(_ io: LayerIO, _ context: StepContext) {
        let count = context.batch * io.outputShape.count
        for case let dX? in io.inputGradients { accumulate(io.outputGradient!.baseAddress!, count: count, into: dX.baseAddress!) }
    }
}

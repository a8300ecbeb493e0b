import Kernels
import Tensor

/// [H, W, C] → [H·W·C] in NHWC order (the same order Keras flattens in). A copy, dx += dy.
public struct Flatten: Layer {
    public static let kind = "flatten"
    public static let summary = "reshape to a vector (row-major NHWC order)"
    public static let gradientCheckCases = [GradientCheckCase(inputs: [[2, 3, 4]])]

    public init() {}
    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { [inputs[0].count] }

    public func forward(_ io: LayerIO, _ context: StepContext) {
        io.output.baseAddress!.update(from: io.inputs[0].baseAddress!, count: context.batch * io.outputShape.count)
    }

    public func backward(_ io: LayerIO, _ context: StepContext) {
        guard let dX = io.inputGradients[0] else { return }
        accumulate(io.outputGradient!.baseAddress!, count: context.batch * io.outputShape.count, into: dX.baseAddress!)
    }
}

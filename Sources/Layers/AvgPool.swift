import Kernels
import Tensor

/// Average pooling: y = mean of each window's in-image cells; dx += dy / cells.
public struct AvgPool: ExampleWise {
    public static let kind = "avgpool"
    public static let summary = "average pooling over square windows (padding cells not counted)"
    public static let options = PoolWindow.options(\AvgPool.pool)
    public static let gradientCheckCases = [
        GradientCheckCase(["size": "2"], inputs: [[4, 4, 3]]), GradientCheckCase(["size": "3", "stride": "2", "padding": "same"], inputs: [[5, 6, 2]]),
    ]
    public var pool = PoolWindow()
    public init() {}
    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { try pool.outputShape(kind: Self.kind, inputs[0]) }
    public func flops(inputs: [Shape], output: Shape) -> Int { output.count * pool.size * pool.size }

    public func forward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        let g = pool.window(io.inputShapes[0]), first = examples.lowerBound
        avgPoolForward(io.inputs[0].baseAddress! + first * g.inputSize, g, batch: examples.count, io.output.baseAddress! + first * io.outputShape.count)
    }

    public func backward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        guard let dX = io.inputGradients[0] else { return }
        let g = pool.window(io.inputShapes[0]), first = examples.lowerBound
        avgPoolBackward(io.outputGradient!.baseAddress! + first * io.outputShape.count, g, batch: examples.count, dX.baseAddress! + first * g.inputSize)
    }
}

import Kernels
import Tensor

/// Max pooling: y = max over each window; forward remembers which input won (the first
/// maximum), and backward routes dy there.
/// (Comparisons, not arithmetic: it counts no FLOPs in the layer table.)
public struct MaxPool: ExampleWise {
    public static let kind = "maxpool"
    public static let summary = "max pooling over square windows"
    public static let options = PoolWindow.options(\MaxPool.pool)
    public static let gradientCheckCases = [
        GradientCheckCase(["size": "2"], inputs: [[4, 4, 3]]), GradientCheckCase(["size": "3", "stride": "2", "padding": "same"], inputs: [[5, 6, 2]]),
    ]
    public var pool = PoolWindow()
    public init() {}
    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { try pool.outputShape(kind: Self.kind, inputs[0]) }

    public func buffers(inputs: [Shape], output: Shape, capacity: Int, workers: Int) -> [BufferSpec] {
        [BufferSpec("argmax", floats: capacity * output.count, role: .saved)]
    }

    public func forward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        let g = pool.window(io.inputShapes[0]), outputSize = io.outputShape.count, first = examples.lowerBound
        maxPoolForward(
            io.inputs[0].baseAddress! + first * g.inputSize, g, batch: examples.count, io.output.baseAddress! + first * outputSize,
            argmax: io.buffers[0].baseAddress! + first * outputSize, level: context.compute.level)
    }

    public func backward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        guard let dX = io.inputGradients[0]?.baseAddress else { return }
        let g = pool.window(io.inputShapes[0]), outputSize = io.outputShape.count, first = examples.lowerBound
        maxPoolBackward(
            io.outputGradient!.baseAddress! + first * outputSize, argmax: io.buffers[0].baseAddress! + first * outputSize, g, batch: examples.count,
            dX + first * g.inputSize)
    }
}

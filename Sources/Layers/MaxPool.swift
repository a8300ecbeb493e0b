import Kernels
import Tensor

/// Max pooling: y = max over each window; forward remembers which input won (the first
/// maximum), and backward routes dy there.
/// (Comparisons, not arithmetic: it counts no FLOPs in the layer table.)
public struct MaxPool: Layer {
    public static let kind = "maxpool"
    public static let summary = "max pooling over square windows"
    public static let optionKeys = PoolWindow.optionKeys
    public static let gradientCheckCases = [GradientCheckCase(["size": "2"], inputs: [[4, 4, 3]]), GradientCheckCase(["size": "3", "stride": "2", "padding": "same"], inputs: [[5, 6, 2]])]
    var pool: PoolWindow

    public init(options: some OptionSource) throws { pool = try PoolWindow(options: options) }
    public var resolvedOptions: [(String, OptionValue)] { pool.resolvedOptions }
    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { try pool.outputShape(kind: Self.kind, inputs[0]) }

    public func buffers(inputs: [Shape], output: Shape, capacity: Int, workers: Int) -> [BufferSpec] {
        [BufferSpec("argmax", floats: capacity * output.count, role: .saved)]
    }

    /// Workers pool their own share of the examples.
    public func forward(_ io: LayerIO, _ context: StepContext) {
        let g = pool.window(io.inputShapes[0]), outputSize = io.outputShape.count
        let x = io.inputs[0].baseAddress!, y = io.output.baseAddress!, argmax = io.buffers[0].baseAddress!
        let level = context.compute.level
        context.compute.pool.split(context.batch) { _, examples in
            let first = examples.lowerBound
            maxPoolForward(x + first * g.inputSize, g, batch: examples.count, y + first * outputSize, argmax: argmax + first * outputSize, level: level)
        }
    }

    public func backward(_ io: LayerIO, _ context: StepContext) {
        guard let dX = io.inputGradients[0]?.baseAddress else { return }
        let g = pool.window(io.inputShapes[0]), outputSize = io.outputShape.count
        let dY = io.outputGradient!.baseAddress!, argmax = io.buffers[0].baseAddress!
        context.compute.pool.split(context.batch) { _, examples in
            let first = examples.lowerBound
            maxPoolBackward(dY + first * outputSize, argmax: argmax + first * outputSize, g, batch: examples.count, dX + first * g.inputSize)
        }
    }
}

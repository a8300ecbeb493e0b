import Kernels
import Tensor

/// Max pooling: y = max over each window; forward remembers which input won (the first
/// maximum), and backward routes dy there.
/// (Comparisons, not arithmetic: it counts no FLOPs in the layer table.)
public struct MaxPool: Layer {
    public static let kind = "maxpool"
    public static let summary = "max pooling over square windows"
    public static let options = PoolWindow.options(\MaxPool.pool)
    public static let gradientCheckCases = [
        GradientCheckCase(["size": "2"], inputs: [[4, 4, 3]]), GradientCheckCase(["size": "3", "stride": "2", "padding": "same"], inputs: [[5, 6, 2]]),
    ]
    var pool = PoolWindow()
    public init() {}
    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { try pool.outputShape(kind: Self.kind, inputs[0]) }

    public func buffers(inputs: [Shape], output: Shape, capacity: Int, workers: Int) -> [BufferSpec] {
        [BufferSpec("argmax", floats: capacity * output.count, role: .saved)]
    }

    /// Workers pool their own share of the examples.
    public func forward(_ io: LayerIO, _ context: StepContext) {
        let g = pool.window(io.inputShapes[0]), outputSize = io.outputShape.count
        let x = io.inputs[0].baseAddress!, y = io.output.baseAddress!, argmax = io.buffers[0].baseAddress!
        context.compute.pool.run(Forward(x: x, y: y, argmax: argmax, window: g, outputSize: outputSize, total: context.batch, level: context.compute.level))
    }

    struct Forward: ParallelShares {
        let x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Float>
        let window: Window2D, outputSize: Int, total: Int, level: CPULevel

        func run(worker: Int, share examples: Range<Int>) {
            let first = examples.lowerBound
            maxPoolForward(
                x + first * window.inputSize, window, batch: examples.count, y + first * outputSize,
                argmax: argmax + first * outputSize, level: level)
        }
    }

    public func backward(_ io: LayerIO, _ context: StepContext) {
        guard let dX = io.inputGradients[0]?.baseAddress else { return }
        let g = pool.window(io.inputShapes[0]), outputSize = io.outputShape.count
        let dY = io.outputGradient!.baseAddress!, argmax = io.buffers[0].baseAddress!
        context.compute.pool.run(Backward(dY: dY, argmax: argmax, dX: dX, window: g, outputSize: outputSize, total: context.batch))
    }

    struct Backward: ParallelShares {
        let dY: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<Float>, dX: UnsafeMutablePointer<Float>
        let window: Window2D, outputSize: Int, total: Int

        func run(worker: Int, share examples: Range<Int>) {
            let first = examples.lowerBound
            maxPoolBackward(dY + first * outputSize, argmax: argmax + first * outputSize, window, batch: examples.count, dX + first * window.inputSize)
        }
    }
}

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
    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape {
        // Window positions are saved in 16 bits.
        guard pool.size <= 256 else { throw ShapeError("maxpool windows are at most 256×256, got \(pool.size)", hint: "use a smaller size") }
        return try pool.outputShape(kind: Self.kind, inputs[0])
    }

    public func buffers(inputs: [Shape], output: Shape, capacity: Int, workers: Int) -> [BufferSpec] {
        // A UInt16 window position per output: two to a float of the arena.
        [BufferSpec("argmax", floats: (capacity * output.count + 1) / 2, role: .saved)]
    }

    public func forward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        let g = pool.window(io.inputShapes[0]), outputSize = io.outputShape.count, first = examples.lowerBound
        maxPoolForward(
            io.inputs[0].baseAddress! + first * g.inputSize, g, batch: examples.count, io.output.baseAddress! + first * outputSize,
            argmax: positions(io) + first * outputSize, level: context.compute.level)
    }

    public func backward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        guard let dX = io.inputGradients[0]?.baseAddress else { return }
        let g = pool.window(io.inputShapes[0]), outputSize = io.outputShape.count, first = examples.lowerBound
        maxPoolBackward(
            io.outputGradient!.baseAddress! + first * outputSize, argmax: positions(io) + first * outputSize, g, batch: examples.count,
            dX + first * g.inputSize)
    }

    /// The saved window positions, UInt16s in the float buffer (as Conv's bf16 columns are).
    func positions(_ io: LayerIO) -> UnsafeMutablePointer<UInt16> {
        UnsafeMutableRawPointer(io.buffers[0].baseAddress!).assumingMemoryBound(to: UInt16.self)
    }
}

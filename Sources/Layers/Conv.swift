import Kernels
import Tensor

/// 2-D convolution over NHWC input, by im2col + GEMM:
///   col = im2col(x)            [N·OH·OW, K·K·C]
///   y   = act(col · W + b)     W is [K, K, C, F] (HWIO, TensorFlow's layout) = [K·K·C, F]
/// Backward, per chunk of examples (col recomputed rather than kept):
///   dY  = dY ⊙ [y > 0] (fused ReLU);  dW += colᵀ · dY;  db += Σ rows dY
///   dcol = dY · Wᵀ;  dx += col2im(dcol)
/// A 3×3, stride-1, same-padded convolution with float32 products and at least 8 input and
/// output channels computes y, dW and dx by Winograd's F(2×2, 3×3) instead (Kernels/Winograd.swift:
/// 16 GEMMs over transformed 4×4 tiles, 2.25× fewer multiplies).
public struct Conv: Layer {
    public static let kind = "conv"
    public static let summary = "2-D convolution (NHWC, im2col + GEMM), optional fused activation"
    public static let options: [LayerOption<Conv>] = [
        .positiveInt("filters", \.filters, default: nil, "output channels"),
        .positiveInt("kernel", \.kernel, default: nil, "square kernel size"),
        .positiveInt("stride", \.stride, default: 1, "step between windows"),
        .padding(\.padding, default: .same, "same (TensorFlow's rule), valid, or a number of zeros per side"),
        .activation(\.activation),
        .bool("use_bias", \.useBias, default: true, "add a learned bias per filter"),
        .initializer(\.initializer, default: .glorotUniform),
    ]
    public static let gradientCheckCases = [
        GradientCheckCase(["filters": "3", "kernel": "3"], inputs: [[5, 4, 2]]),
        GradientCheckCase(["filters": "2", "kernel": "2", "activation": "relu"], inputs: [[4, 5, 3]]),
        GradientCheckCase(["filters": "2", "kernel": "3", "stride": "2", "padding": "valid"], inputs: [[7, 6, 2]]),
        GradientCheckCase(["filters": "2", "kernel": "3", "stride": "2", "padding": "1", "use_bias": "false"], inputs: [[5, 5, 1]]),
        GradientCheckCase(["filters": "4", "kernel": "1", "activation": "relu"], inputs: [[3, 3, 3]]),
        // Winograd F(2×2, 3×3) in fp32 (3×3 same, ≥ 8 channels each way): odd and even sizes.
        GradientCheckCase(["filters": "8", "kernel": "3"], inputs: [[5, 4, 8]]),
        GradientCheckCase(["filters": "9", "kernel": "3", "activation": "relu", "use_bias": "false"], inputs: [[4, 3, 10]]),
        GradientCheckCase(["filters": "9", "kernel": "3", "activation": "gelu"], inputs: [[4, 3, 10]]),  // Winograd in fp32
        GradientCheckCase(["filters": "3", "kernel": "2", "padding": "valid", "activation": "gelu", "use_bias": "false"], inputs: [[3, 4, 2]]),
        // Frozen weights (init: whiten): no weight gradient, the input and bias gradients still.
        GradientCheckCase(["filters": "8", "kernel": "2", "padding": "valid", "init": "whiten"], inputs: [[4, 3, 1]]),
    ]

    public var filters = 0, kernel = 0
    public var stride = 1
    public var padding = Padding.same
    public var activation = Activation.linear
    public var useBias = true
    public var initializer = Initializer.glorotUniform
    public init() {}

    func window(_ input: Shape) -> Window2D {
        Window2D(inputHeight: input[0], inputWidth: input[1], channels: input[2], kernel: kernel, stride: stride, padding: padding)
    }

    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape {
        let input = inputs[0]
        guard input.rank == 3 else {
            throw ShapeError(
                "conv needs a height×width×channels input, got \(input)",
                hint: "put conv before flatten/dense, or give the model an input of [height, width, channels]")
        }
        let g = window(input)
        guard g.outputHeight > 0, g.outputWidth > 0 else {
            throw ShapeError(
                "a \(kernel)×\(kernel) kernel with padding \(padding) does not fit the \(input) input", hint: "use padding: same or a smaller kernel")
        }
        if initializer == .whiten, filters != 2 * g.patchSize {
            throw ShapeError(
                "init: whiten makes 2 × (\(kernel)·\(kernel)·\(input[2])) = \(2 * g.patchSize) filters (each eigenvector of the patch "
                    + "covariance, with both signs), not \(filters)",
                hint: "write filters: \(2 * g.patchSize)")
        }
        return [g.outputHeight, g.outputWidth, filters]
    }

    public func parameters(inputs: [Shape]) -> [ParameterSpec] {
        let channels = inputs[0].channels
        var specs = [
            ParameterSpec(
                "weight", shape: [kernel, kernel, channels, filters], initializer: initializer,
                fanIn: kernel * kernel * channels, fanOut: kernel * kernel * filters, trainable: initializer != .whiten, decays: true)
        ]
        if useBias { specs.append(ParameterSpec("bias", shape: [filters], initializer: .zeros)) }
        return specs
    }

    /// Examples per im2col chunk and worker: as many as fit in about 1M floats (4 MB), so that
    /// the GEMM's M = chunk·OH·OW stays large while each worker's columns stay near its caches.
    static let columnBudget = 1 << 20

    static func chunk(_ g: Window2D, capacity: Int, workers: Int) -> Int {
        let perWorker = (capacity + workers - 1) / workers
        return min(perWorker, max(1, Conv.columnBudget / (g.outputPixels * g.patchSize)))
    }

    /// Per worker: an im2col chunk; and in backward, weight and bias gradient partials for
    /// workers after the first (worker 0 adds into the real gradients; the rest are summed in);
    /// where Winograd applies, its transformed filters, tiles and products (`WinogradScratch`);
    /// with a fused GELU, the pre-activation output for backward.
    public func buffers(inputs: [Shape], output: Shape, capacity: Int, workers: Int) -> [BufferSpec] {
        let g = window(inputs[0])
        let columns = Conv.chunk(g, capacity: capacity, workers: workers) * g.outputPixels * g.patchSize
        let winograd = winogradShape(g).map { WinogradScratch($0, filters: filters, capacity: capacity, workers: workers).floats } ?? 0
        return [
            BufferSpec("columns", floats: workers * columns, role: .scratch),
            BufferSpec("gradient_partials", floats: (workers - 1) * (g.patchSize + 1) * filters, role: .scratch),
            BufferSpec("winograd", floats: workers * winograd, role: .scratch),
            BufferSpec("pre_activation", floats: activation.preActivationFloats(capacity * output.count), role: .saved),
        ]
    }

    /// The window, when this layer can run Winograd: F(2×2, 3×3) applies and both channel
    /// counts are at least 8 (below that the 16 GEMMs are too thin to gain; the first layer of
    /// an RGB network stays im2col). Buffers are sized by this alone.
    func winogradShape(_ g: Window2D) -> Window2D? {
        winogradApplies(g) && g.channels >= 8 && filters >= 8 ? g : nil
    }

    /// The window when this layer does run Winograd in `compute`: also fp32 products (bf16
    /// keeps im2col, whose columns it writes in bf16 directly: measured faster).
    func winogradShape(_ g: Window2D, _ compute: ComputeEngine) -> Window2D? {
        compute.precision == .fp32 ? winogradShape(g) : nil
    }

    /// A 1×1, stride-1, unpadded convolution is already a GEMM on x itself: no im2col needed.
    func isPointwise(_ g: Window2D) -> Bool {
        kernel == 1 && stride == 1 && g.padTop == 0 && g.padLeft == 0 && g.outputHeight == g.inputHeight && g.outputWidth == g.inputWidth
    }

    public func flops(inputs: [Shape], output: Shape) -> Int {
        2 * output.count * window(inputs[0]).patchSize
    }

    /// Each worker convolves its own contiguous share of the batch, chunk by chunk:
    /// im2col into its own columns, a single-threaded GEMM, then bias and ReLU while hot.
    public func forward(_ io: LayerIO, _ context: StepContext) {
        context.compute.pool.run(ConvForward(layer: self, io: io, batch: context.batch, compute: context.compute))
    }

    /// Each worker takes its share of the batch: masks dY by the fused ReLU, then per chunk
    /// dW += colᵀ·dY and db += Σ dY (worker 0 into the gradients, the others into partials),
    /// dcol = dY·Wᵀ and dx += col2im(dcol). The partials are summed in worker order afterwards,
    /// so a run is reproducible for a given number of workers.
    public func backward(_ io: LayerIO, _ context: StepContext) {
        let compute = context.compute
        context.compute.pool.run(ConvBackward(layer: self, io: io, batch: context.batch, compute: compute))
        // Sum the partials of workers that had examples (a worker with none left its stale).
        let patch = window(io.inputShapes[0]).patchSize, partialSize = (patch + 1) * filters
        let partials = io.buffers[1].baseAddress!
        let dWeight = io.parameterGradients[0]?.baseAddress  // nil: frozen (init: whiten)
        let dBias = useBias ? io.parameterGradients[1]!.baseAddress! : nil
        for worker in 1 ..< compute.workers where !WorkerPool.share(of: worker, workers: compute.workers, total: context.batch).isEmpty {
            let partial = partials + (worker - 1) * partialSize
            if let dWeight { accumulate(partial, count: patch * filters, into: dWeight) }
            if let dBias { accumulate(partial + patch * filters, count: filters, into: dBias) }
        }
    }
}

/// Conv's forward on one worker's share of the batch (`Conv.forward`).
struct ConvForward: ParallelShares {
    let layer: Conv, io: LayerIO, batch: Int, compute: ComputeEngine
    var total: Int { batch }

    func run(worker: Int, share examples: Range<Int>) {
        let g = layer.window(io.inputShapes[0])
        let rowsPerExample = g.outputPixels, patch = g.patchSize
        let perWorker = io.buffers[0].count / compute.workers
        let chunk = perWorker / (rowsPerExample * patch)
        let x = io.inputs[0].baseAddress!, y = io.output.baseAddress!
        let weight = io.parameters[0].baseAddress!
        let bias = layer.useBias ? io.parameters[1].baseAddress! : nil
        let relu = layer.activation == .relu, direct = layer.isPointwise(g), filters = layer.filters
        let pre = layer.activation == .gelu ? io.buffers[3].baseAddress! : nil
        if let g = layer.winogradShape(g, compute) {
            let scratch = WinogradScratch(g, filters: filters, perWorker: io.buffers[2].count / compute.workers)
            let space = scratch.pointers(io.buffers[2].baseAddress!, worker: worker)
            winogradFilterTransform(weight, channels: g.channels, filters: filters, flipped: false, space.u)
            winograd(
                x, g, inputChannels: g.channels, outputChannels: filters, examples: examples, block: scratch.block,
                space, compute, worker: worker, accumulate: false, y)
            let rows = examples.count * rowsPerExample, out = y + examples.lowerBound * rowsPerExample * filters
            if let bias { addBias(out, rows: rows, columns: filters, bias, relu: relu) } else if relu { reluForward(out, count: rows * filters, out) }
            if let pre { geluInPlace(out, count: rows * filters, saving: pre + (out - y)) }
            return
        }
        // In bf16, columns are written as bf16 (half the bytes, no second conversion).
        let bf16Columns = !direct && compute.runsInBF16(n: filters, k: patch)
        let rowLength = (patch + 1) & ~1
        let columns = io.buffers[0].baseAddress! + worker * perWorker
        let columns16 = UnsafeMutableRawPointer(columns).assumingMemoryBound(to: UInt16.self)
        var first = examples.lowerBound
        while first < examples.upperBound {
            let count = min(chunk, examples.upperBound - first)
            let rows = count * rowsPerExample
            let out = y + first * rowsPerExample * filters
            if bf16Columns {
                im2colBF16(x, g, first: first, count: count, columns16, rowLength: rowLength)
                compute.gemm(worker: worker, m: rows, n: filters, k: patch, bf16: columns16, lda: rowLength, weight, ldb: filters, beta: 0, out, ldc: filters)
            } else {
                let a: UnsafePointer<Float>
                if direct {
                    a = UnsafePointer(x + first * g.inputSize)
                } else {
                    im2col(x, g, first: first, count: count, columns)
                    a = UnsafePointer(columns)
                }
                compute.gemm(worker: worker, m: rows, n: filters, k: patch, a, lda: patch, weight, ldb: filters, beta: 0, out, ldc: filters)
            }
            if let bias {
                addBias(out, rows: rows, columns: filters, bias, relu: relu)
            } else if relu {
                reluForward(out, count: rows * filters, out)
            }
            if let pre { geluInPlace(out, count: rows * filters, saving: pre + (out - y)) }
            first += count
        }
    }
}

/// Conv's backward on one worker's share of the batch, its weight and bias gradients into its
/// own partials (`Conv.backward` sums them).
struct ConvBackward: ParallelShares {
    let layer: Conv, io: LayerIO, batch: Int, compute: ComputeEngine
    var total: Int { batch }

    func run(worker: Int, share examples: Range<Int>) {
        let g = layer.window(io.inputShapes[0])
        let rowsPerExample = g.outputPixels, patch = g.patchSize
        let perWorker = io.buffers[0].count / compute.workers
        let chunk = perWorker / (rowsPerExample * patch)
        let x = io.inputs[0].baseAddress!, y = io.output.baseAddress!
        let dY = io.outputGradient!.baseAddress!
        let weight = io.parameters[0].baseAddress!
        let dWeight = io.parameterGradients[0]?.baseAddress  // nil: frozen weights, no dW
        let dBias = layer.useBias ? io.parameterGradients[1]!.baseAddress! : nil
        let partials = io.buffers[1].baseAddress!
        let partialSize = (patch + 1) * layer.filters
        let dX = io.inputGradients[0]?.baseAddress
        let relu = layer.activation == .relu, direct = layer.isPointwise(g), filters = layer.filters
        let pre = layer.activation == .gelu ? UnsafePointer(io.buffers[3].baseAddress!) : nil
        let bf16Columns = !direct && compute.runsInBF16(n: filters, k: patch)
        let rowLength = (patch + 1) & ~1
        let columns = io.buffers[0].baseAddress! + worker * perWorker
        let columns16 = UnsafeMutableRawPointer(columns).assumingMemoryBound(to: UInt16.self)
        // Worker 0 accumulates into the real gradients; the others start partials from zero.
        let myWeight: UnsafeMutablePointer<Float>?, myBias: UnsafeMutablePointer<Float>?
        if worker == 0 {
            myWeight = dWeight; myBias = dBias
        } else {
            let partial = partials + (worker - 1) * partialSize
            partial.update(repeating: 0, count: partialSize)
            myWeight = dWeight == nil ? nil : partial
            myBias = dBias == nil ? nil : partial + patch * filters
        }
        // dW and dx by Winograd where forward used it.
        if let wg = layer.winogradShape(g, compute) {
            let scratch = WinogradScratch(wg, filters: filters, perWorker: io.buffers[2].count / compute.workers)
            // Winograd: mask and bias gradient over the whole share, then dW and dx.
            let rows = examples.count * rowsPerExample, dOut = dY + examples.lowerBound * rowsPerExample * filters
            if relu { reluMaskInPlace(y + examples.lowerBound * rowsPerExample * filters, count: rows * filters, dOut) }
            if let pre { geluGradientInPlace(pre + (dOut - dY), count: rows * filters, dOut) }
            if let myBias { addBiasGradient(dOut, rows: rows, columns: filters, myBias) }
            let space = scratch.pointers(io.buffers[2].baseAddress!, worker: worker)
            if let myWeight {
                winogradWeightGradient(
                    x, UnsafePointer(dY), wg, filters: filters, examples: examples, block: scratch.block, space, compute, worker: worker, myWeight)
            }
            if let dX {
                // dx = dY ∗ rot180(W) with channels swapped: the same transform on dY's F channels.
                winogradFilterTransform(weight, channels: wg.channels, filters: filters, flipped: true, space.u)
                let gradientWindow = Window2D(inputHeight: wg.inputHeight, inputWidth: wg.inputWidth, channels: filters, kernel: 3, stride: 1, padding: .same)
                winograd(
                    UnsafePointer(dY), gradientWindow, inputChannels: filters, outputChannels: wg.channels, examples: examples, block: scratch.block,
                    space, compute, worker: worker, accumulate: true, dX)
            }
            return
        }
        var first = examples.lowerBound
        while first < examples.upperBound {
            let count = min(chunk, examples.upperBound - first)
            let rows = count * rowsPerExample
            let dOut = dY + first * rowsPerExample * filters
            if relu { reluMaskInPlace(y + first * rowsPerExample * filters, count: rows * filters, dOut) }
            if let pre { geluGradientInPlace(pre + (dOut - dY), count: rows * filters, dOut) }
            if let myBias { addBiasGradient(dOut, rows: rows, columns: filters, myBias) }
            // dW[patch, F] += colᵀ[patch, rows] · dY[rows, F]
            if let myWeight, bf16Columns {
                im2colBF16(x, g, first: first, count: count, columns16, rowLength: rowLength)
                compute.gemm(
                    worker: worker, transposeA: true, m: patch, n: filters, k: rows, bf16: columns16, lda: rowLength, dOut, ldb: filters, beta: 1, myWeight,
                    ldc: filters)
            } else if let myWeight {
                let a: UnsafePointer<Float>
                if direct {
                    a = UnsafePointer(x + first * g.inputSize)
                } else {
                    im2col(x, g, first: first, count: count, columns)
                    a = UnsafePointer(columns)
                }
                compute.gemm(
                    worker: worker, transposeA: true, m: patch, n: filters, k: rows, a, lda: patch, dOut, ldb: filters, beta: 1, myWeight, ldc: filters)
            }
            if let dX {
                if direct {
                    // dx[rows, C] += dY[rows, F] · Wᵀ[F, C]
                    compute.gemm(
                        worker: worker, transposeB: true, m: rows, n: patch, k: filters, dOut, lda: filters, weight, ldb: filters, beta: 1,
                        dX + first * g.inputSize, ldc: patch)
                } else {
                    compute.gemm(
                        worker: worker, transposeB: true, m: rows, n: patch, k: filters, dOut, lda: filters, weight, ldb: filters, beta: 0, columns, ldc: patch)
                    col2imAdd(columns, g, first: first, count: count, dX)
                }
            }
            first += count
        }
    }
}

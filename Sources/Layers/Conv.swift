import Kernels
import Tensor

/// 2-D convolution over NHWC input, by im2col + GEMM:
///   col = im2col(x)            [N·OH·OW, K·K·C]
///   y   = act(col · W + b)     W is [K, K, C, F] (HWIO, TensorFlow's layout) = [K·K·C, F]
/// Backward, per chunk of examples (col recomputed rather than kept):
///   dY  = dY ⊙ [y > 0] (fused ReLU);  dW += colᵀ · dY;  db += Σ rows dY
///   dcol = dY · Wᵀ;  dx += col2im(dcol)
public struct Conv: Layer {
    public static let kind = "conv"
    public static let summary = "2-D convolution (NHWC, im2col + BLAS sgemm), optional fused activation"
    public static let optionKeys = [
        OptionDoc("filters", "required", "output channels"),
        OptionDoc("kernel", "required", "square kernel size"),
        OptionDoc("stride", "1", "step between windows"),
        OptionDoc("padding", "same", "same (TensorFlow's rule), valid, or a number of zeros per side"),
        OptionDoc("activation", "linear", "linear or relu, fused after the GEMM"),
        OptionDoc("use_bias", "true", "add a learned bias per filter"),
        OptionDoc("init", "glorot_uniform", Initializer.allCases.map(\.rawValue).joined(separator: ", ")),
    ]
    public static let gradientCheckCases = [GradientCheckCase(["filters": "3", "kernel": "3"], inputs: [[5, 4, 2]]),
     GradientCheckCase(["filters": "2", "kernel": "2", "activation": "relu"], inputs: [[4, 5, 3]]),
     GradientCheckCase(["filters": "2", "kernel": "3", "stride": "2", "padding": "valid"], inputs: [[7, 6, 2]]),
     GradientCheckCase(["filters": "2", "kernel": "3", "stride": "2", "padding": "1", "use_bias": "false"], inputs: [[5, 5, 1]]),
     GradientCheckCase(["filters": "4", "kernel": "1", "activation": "relu"], inputs: [[3, 3, 3]])]

    public var filters: Int
    public var kernel: Int
    public var stride: Int
    public var padding: Padding
    public var activation: Activation
    public var useBias: Bool
    public var initializer: Initializer

    public init(options: some OptionSource) throws {
        filters = try options.positiveInt("filters", default: nil)
        kernel = try options.positiveInt("kernel", default: nil)
        stride = try options.positiveInt("stride", default: 1)
        padding = try options.padding("padding", default: .same)
        activation = try options.activation()
        useBias = try options.bool("use_bias", default: true)
        initializer = try options.initializer(default: .glorotUniform)
    }

    public var resolvedOptions: [(String, OptionValue)] {
        [("filters", .int(filters)), ("kernel", .int(kernel)), ("stride", .int(stride)),
         ("padding", padding.optionValue), ("activation", .string(activation.rawValue)),
         ("use_bias", .bool(useBias)), ("init", .string(initializer.rawValue))]
    }

    func window(_ input: Shape) -> Window2D {
        Window2D(inputHeight: input[0], inputWidth: input[1], channels: input[2], kernel: kernel, stride: stride, padding: padding)
    }

    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape {
        let input = inputs[0]
        guard input.rank == 3 else {
            throw ShapeError("conv needs a height×width×channels input, got \(input)", hint: "put conv before flatten/dense, or give the model an input of [height, width, channels]")
        }
        let g = window(input)
        guard g.outputHeight > 0, g.outputWidth > 0 else {
            throw ShapeError("a \(kernel)×\(kernel) kernel with padding \(padding) does not fit the \(input) input", hint: "use padding: same or a smaller kernel")
        }
        return [g.outputHeight, g.outputWidth, filters]
    }

    public func parameters(inputs: [Shape]) -> [ParameterSpec] {
        let channels = inputs[0].channels
        var specs = [ParameterSpec("weight", shape: [kernel, kernel, channels, filters], initializer: initializer,
                                   fanIn: kernel * kernel * channels, fanOut: kernel * kernel * filters, decays: true)]
        if useBias { specs.append(ParameterSpec("bias", shape: [filters], initializer: .zeros)) }
        return specs
    }

    /// Examples per im2col chunk: as many as fit in about 8M floats (32 MB), so that the GEMM's
    /// M = chunk·OH·OW stays large while the column buffer stays cache- and memory-friendly.
    static let columnBudget = 8 << 20

    public func buffers(inputs: [Shape], output: Shape, capacity: Int) -> [BufferSpec] {
        let g = window(inputs[0])
        let perExample = g.outputPixels * g.patchSize
        let chunk = min(capacity, max(1, Conv.columnBudget / perExample))
        return [BufferSpec("columns", floats: chunk * perExample, role: .scratch)]
    }

    /// A 1×1, stride-1, unpadded convolution is already a GEMM on x itself: no im2col needed.
    func isPointwise(_ g: Window2D) -> Bool {
        kernel == 1 && stride == 1 && g.padTop == 0 && g.padLeft == 0 && g.outputHeight == g.inputHeight && g.outputWidth == g.inputWidth
    }

    public func flops(inputs: [Shape], output: Shape) -> Int {
        2 * output.count * window(inputs[0]).patchSize
    }

    public func forward(_ io: LayerIO, _ context: StepContext) {
        let g = window(io.inputShapes[0])
        let columns = io.buffers[0]
        let rowsPerExample = g.outputPixels, patch = g.patchSize
        let chunk = columns.count / (rowsPerExample * patch)
        let x = io.inputs[0].baseAddress!, y = io.output.baseAddress!
        let weight = io.parameters[0].baseAddress!
        var first = 0
        while first < context.batch {
            let count = min(chunk, context.batch - first)
            let rows = count * rowsPerExample
            let out = y + first * rowsPerExample * filters
            let a: UnsafePointer<Float>
            if isPointwise(g) { a = UnsafePointer(x + first * g.inputSize) } else {
                im2col(x, g, first: first, count: count, columns.baseAddress!)
                a = UnsafePointer(columns.baseAddress!)
            }
            gemm(m: rows, n: filters, k: patch, a, lda: patch, weight, ldb: filters, beta: 0, out, ldc: filters)
            if useBias {
                addBias(out, rows: rows, columns: filters, io.parameters[1].baseAddress!, relu: activation == .relu)
            } else if activation == .relu {
                reluForward(out, count: rows * filters, out)
            }
            first += count
        }
    }

    public func backward(_ io: LayerIO, _ context: StepContext) {
        let g = window(io.inputShapes[0])
        let columns = io.buffers[0]
        let rowsPerExample = g.outputPixels, patch = g.patchSize
        let chunk = columns.count / (rowsPerExample * patch)
        let x = io.inputs[0].baseAddress!, y = io.output.baseAddress!
        let dY = io.outputGradient!.baseAddress!
        let weight = io.parameters[0].baseAddress!, dWeight = io.parameterGradients[0]!.baseAddress!
        let total = context.batch * rowsPerExample * filters
        if activation == .relu { reluMaskInPlace(y, count: total, dY) }
        if useBias { addBiasGradient(dY, rows: context.batch * rowsPerExample, columns: filters, io.parameterGradients[1]!.baseAddress!) }
        let dX = io.inputGradients[0]?.baseAddress
        let direct = isPointwise(g)
        var first = 0
        while first < context.batch {
            let count = min(chunk, context.batch - first)
            let rows = count * rowsPerExample
            let dOut = dY + first * rowsPerExample * filters
            let a: UnsafePointer<Float>
            if direct { a = UnsafePointer(x + first * g.inputSize) } else {
                im2col(x, g, first: first, count: count, columns.baseAddress!)
                a = UnsafePointer(columns.baseAddress!)
            }
            // dW[patch, F] += colᵀ[patch, rows] · dY[rows, F]
            gemm(transposeA: true, m: patch, n: filters, k: rows, a, lda: patch, dOut, ldb: filters, beta: 1, dWeight, ldc: filters)
            if let dX {
                if direct {
                    // dx[rows, C] += dY[rows, F] · Wᵀ[F, C]
                    gemm(transposeB: true, m: rows, n: patch, k: filters, dOut, lda: filters, weight, ldb: filters, beta: 1, dX + first * g.inputSize, ldc: patch)
                } else {
                    gemm(transposeB: true, m: rows, n: patch, k: filters, dOut, lda: filters, weight, ldb: filters, beta: 0, columns.baseAddress!, ldc: patch)
                    col2imAdd(columns.baseAddress!, g, first: first, count: count, dX)
                }
            }
            first += count
        }
    }
}

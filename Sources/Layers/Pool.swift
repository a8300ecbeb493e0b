import Kernels
import Tensor

/// Options and shape rule shared by `maxpool` and `avgpool`: a square window of `size`,
/// moved by `stride` (default: the size), padded as TensorFlow pads.
struct PoolWindow: Sendable {
    static let optionKeys = [
        OptionDoc("size", "2", "square window size"),
        OptionDoc("stride", "size", "step between windows"),
        OptionDoc("padding", "valid", "valid, same (TensorFlow's rule) or a number of cells per side"),
    ]
    var size: Int, stride: Int, padding: Padding

    init(options: some OptionSource) throws {
        size = try options.positiveInt("size", default: 2)
        stride = try options.positiveInt("stride", default: size)
        padding = try options.padding("padding", default: .valid)
    }

    var resolvedOptions: [(String, OptionValue)] {
        [("size", .int(size)), ("stride", .int(stride)), ("padding", padding.optionValue)]
    }

    func window(_ input: Shape) -> Window2D {
        Window2D(inputHeight: input[0], inputWidth: input[1], channels: input[2], kernel: size, stride: stride, padding: padding)
    }

    func outputShape(kind: String, _ input: Shape) throws(ShapeError) -> Shape {
        guard input.rank == 3 else { throw ShapeError("\(kind) needs a height×width×channels input, got \(input)", hint: "pool before flatten") }
        let g = window(input)
        guard g.outputHeight > 0, g.outputWidth > 0 else {
            throw ShapeError("a \(size)×\(size) window does not fit the \(input) input", hint: "use a smaller size or padding: same")
        }
        return [g.outputHeight, g.outputWidth, input[2]]
    }
}

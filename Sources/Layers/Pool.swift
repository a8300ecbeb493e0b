import Kernels
import Tensor

/// Options and shape rule shared by `maxpool` and `avgpool`: a square window of `size`,
/// moved by `stride` (default: the size), padded as TensorFlow pads.
public struct PoolWindow: Sendable {
    public var size = 2, stride = 2, padding = Padding.valid

    /// The options of a kind that keeps its window at `window`.
    static func options<Kind>(_ window: WritableKeyPath<Kind, PoolWindow>) -> [LayerOption<Kind>] {
        [
            .positiveInt("size", window.appending(path: \.size), default: 2, "square window size"),
            // The default stride is the size just read.
            LayerOption(
                OptionDoc("stride", "size", "step between windows", type: .integer(minimum: 1)),
                read: { layer, source in
                    layer[keyPath: window].stride = try source.positiveInt("stride", default: layer[keyPath: window].size)
                },
                written: { .int($0[keyPath: window].stride) }),
            .padding(window.appending(path: \.padding), default: .valid, "valid, same (TensorFlow's rule) or a number of cells per side"),
        ]
    }

    public func window(_ input: Shape) -> Window2D {
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

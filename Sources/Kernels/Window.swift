/// How a sliding window (convolution or pooling) pads its input.
public enum Padding: Hashable, Sendable, CustomStringConvertible {
    /// TensorFlow's SAME: output = ceil(input / stride); the padding it needs is split with the
    /// smaller half before, so an even kernel pads 0 before and 1 after at stride 1.
    case same
    /// No padding: output = floor((input − kernel) / stride) + 1.
    case valid
    /// The same number of zeros on every side.
    case explicit(Int)

    public var description: String {
        switch self {
        case .same: "same"
        case .valid: "valid"
        case .explicit(let amount): String(amount)
        }
    }

    /// Output length and padding before the first element, along one axis.
    public func resolve(input: Int, kernel: Int, stride: Int) -> (output: Int, padBefore: Int) {
        switch self {
        case .same:
            let output = (input + stride - 1) / stride
            let total = max((output - 1) * stride + kernel - input, 0)
            return (output, total / 2)
        case .valid:
            return (input >= kernel ? (input - kernel) / stride + 1 : 0, 0)
        case .explicit(let amount):
            let padded = input + 2 * amount
            return (padded >= kernel ? (padded - kernel) / stride + 1 : 0, amount)
        }
    }
}

/// The geometry of a 2-D window over an NHWC tensor, resolved once at build time.
public struct Window2D: Hashable, Sendable {
    public var inputHeight: Int, inputWidth: Int, channels: Int
    public var kernelHeight: Int, kernelWidth: Int
    public var stride: Int
    public var padTop: Int, padLeft: Int
    public var outputHeight: Int, outputWidth: Int

    public init(inputHeight: Int, inputWidth: Int, channels: Int, kernel: Int, stride: Int, padding: Padding) {
        self.inputHeight = inputHeight
        self.inputWidth = inputWidth
        self.channels = channels
        self.kernelHeight = kernel
        self.kernelWidth = kernel
        self.stride = stride
        (outputHeight, padTop) = padding.resolve(input: inputHeight, kernel: kernel, stride: stride)
        (outputWidth, padLeft) = padding.resolve(input: inputWidth, kernel: kernel, stride: stride)
    }

    /// Elements in one im2col row: one receptive field, ordered (ky, kx, c) like HWIO weights.
    public var patchSize: Int { kernelHeight * kernelWidth * channels }
    public var inputSize: Int { inputHeight * inputWidth * channels }
    public var outputPixels: Int { outputHeight * outputWidth }
}

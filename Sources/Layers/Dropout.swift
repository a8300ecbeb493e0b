import Kernels
import Tensor

/// Inverted dropout. Training: mask = [u ≥ rate] / (1 − rate), y = x · mask, dx += dy · mask.
/// Inference: y = x (the scaling at training time keeps expectations equal).
public struct Dropout: Layer {
    public static let kind = "dropout"
    public static let summary = "inverted dropout (active in training only)"
    public static let optionKeys = [OptionDoc("rate", "0.5", "probability of zeroing an element, in [0, 1)")]
    public static let gradientCheckCases = [GradientCheckCase(["rate": "0.4"], inputs: [[3, 3, 4]])]
    public var rate: Double

    public init(options: some OptionSource) throws { rate = try options.rate("rate", default: 0.5) }
    public var resolvedOptions: [(String, OptionValue)] { [("rate", .double(rate))] }
    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { inputs[0] }

    public func buffers(inputs: [Shape], output: Shape, capacity: Int) -> [BufferSpec] {
        [BufferSpec("mask", floats: capacity * output.count, role: .saved)]
    }

    public func forward(_ io: LayerIO, _ context: StepContext) {
        let count = context.batch * io.outputShape.count
        let x = io.inputs[0].baseAddress!, y = io.output.baseAddress!
        guard context.training && rate > 0 else {
            y.update(from: x, count: count)
            return
        }
        let mask = io.buffers[0].baseAddress!
        let scale = Float(1 / (1 - rate))
        // Each 64-bit draw decides four elements with 16 bits apiece: an element is kept when its
        // 16 bits fall below (1 − rate)·2^16 (the rate is honoured to 1/65536).
        let threshold = UInt64(((1 - rate) * 65536).rounded())
        var random = context.random  // a local copy keeps the generator's state in registers
        var i = 0
        while i < count {
            var bits = random.next()
            for _ in 0 ..< min(4, count - i) {
                mask[i] = (bits & 0xFFFF) < threshold ? scale : 0
                bits >>= 16
                i += 1
            }
        }
        context.random = random
        multiply(x, mask, count: count, y)
    }

    public func backward(_ io: LayerIO, _ context: StepContext) {
        guard let dX = io.inputGradients[0] else { return }
        let count = context.batch * io.outputShape.count
        if rate > 0 {
            multiplyAdd(io.outputGradient!.baseAddress!, io.buffers[0].baseAddress!, count: count, dX.baseAddress!)
        } else {
            accumulate(io.outputGradient!.baseAddress!, count: count, into: dX.baseAddress!)
        }
    }
}

import Kernels
import Tensor

/// Inverted dropout. Training: mask = [u ≥ rate] / (1 − rate), y = x · mask, dx += dy · mask.
/// Inference: y = x (the scaling at training time keeps expectations equal).
public struct Dropout: Layer {
    public static let kind = "dropout"
    public static let summary = "inverted dropout (active in training only)"
    public static let options: [LayerOption<Dropout>] = [.rate("rate", \.rate, default: 0.5, "probability of zeroing an element, in [0, 1)")]
    public static let gradientCheckCases = [GradientCheckCase(["rate": "0.4"], inputs: [[3, 3, 4]])]
    public var rate = 0.5
    public init() {}
    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { inputs[0] }

    public func buffers(inputs: [Shape], output: Shape, capacity: Int, workers: Int) -> [BufferSpec] {
        [BufferSpec("mask", floats: capacity * output.count, role: .saved)]
    }

    public func forward(_ io: LayerIO, _ context: StepContext) {
        let count = context.batch * io.outputShape.count
        let x = io.inputs[0].baseAddress!, y = io.output.baseAddress!
        guard context.training && rate > 0 else {
            y.update(from: x, count: count)
            return
        }
        // One draw from the step's dropout stream keys this call; the bits for elements
        // 4j ..< 4j + 4 of the whole step's batch are then a hash of (key, j). Any worker can
        // compute any block, so the mask is the same whatever the number of workers, and a
        // rank holding examples from `firstExample` on draws what one process would for them.
        // Each element is kept when its 16 bits fall below (1 − rate)·2^16 (the rate is
        // honoured to 1/65536).
        context.compute.pool.run(
            DropoutMask(
                x: x, y: y, mask: io.buffers[0].baseAddress!, count: count, offset: context.firstExample * io.outputShape.count,
                key: context.random.next(), threshold: UInt64(((1 - rate) * 65536).rounded()), scale: Float(1 / (1 - rate))))
    }

    /// mask = [bits < threshold] · scale and y = x · mask, blocks of 4 elements (of the whole
    /// batch, `offset` elements before this one's first) shared out.
    struct DropoutMask: ParallelShares {
        let x: UnsafeMutablePointer<Float>, y: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>
        let count: Int, offset: Int, key: UInt64, threshold: UInt64, scale: Float
        var firstBlock: Int { offset / 4 }
        var total: Int { (offset + count + 3) / 4 - firstBlock }

        func run(worker: Int, share blocks: Range<Int>) {
            for block in blocks {
                let global = firstBlock + block
                let bits = mix64(key &+ UInt64(global) &* 0x9E37_79B9_7F4A_7C15)
                for lane in 0 ..< 4 {
                    let element = 4 * global + lane - offset  // this batch's element
                    guard element >= 0 && element < count else { continue }
                    let keep = (bits >> UInt64(16 * lane)) & 0xFFFF < threshold ? scale : 0
                    mask[element] = keep
                    y[element] = x[element] * keep
                }
            }
        }
    }

    public func backward(_ io: LayerIO, _ context: StepContext) {
        guard let dX = io.inputGradients[0]?.baseAddress else { return }
        let count = context.batch * io.outputShape.count
        let dY = io.outputGradient!.baseAddress!, mask = io.buffers[0].baseAddress!
        context.compute.pool.run(DropoutBackward(dY: dY, mask: mask, dX: dX, total: count, masked: rate > 0))
    }

    /// dx += dy · mask (or dx += dy when nothing was dropped), elements shared out.
    struct DropoutBackward: ParallelShares {
        let dY: UnsafeMutablePointer<Float>, mask: UnsafeMutablePointer<Float>, dX: UnsafeMutablePointer<Float>
        let total: Int, masked: Bool

        func run(worker: Int, share range: Range<Int>) {
            let start = range.lowerBound
            if masked {
                multiplyAdd(dY + start, mask + start, count: range.count, dX + start)
            } else {
                accumulate(dY + start, count: range.count, into: dX + start)
            }
        }
    }
}

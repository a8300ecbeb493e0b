import Tensor

/// Random changes to training images, each drawn from (seed, epoch, position in the epoch)
/// alone: a resumed run redraws exactly what the uninterrupted one drew, and the draw does not
/// depend on batch boundaries or threads.
public struct Augmentation: Sendable, Equatable {
    /// How images are mirrored left–right.
    public enum Flip: String, Sendable, CaseIterable {
        case none = "false"
        /// Each image with probability ½, drawn anew every epoch.
        case random = "true"
        /// Each image at random in epoch 0, then the opposite of its previous epoch, so every
        /// image is seen both ways in any two consecutive epochs (airbench's "alternating flip").
        case alternating
    }

    /// Zero-pad this many pixels per side, then take a random window of the original size
    /// (equivalently: shift by dy, dx ∈ −crop ... crop, filling with zeros).
    public var crop: Int
    /// Shift by dy, dx ∈ −translate ... translate, filling from the image reflected at its
    /// border (PyTorch's `reflect` padding: the edge pixel is not repeated).
    public var translate: Int
    public var flip: Flip
    /// Zero a cutout × cutout square centred at a uniformly random pixel (clipped at the border).
    public var cutout: Int

    public init(crop: Int = 0, translate: Int = 0, flip: Flip = .none, cutout: Int = 0) {
        self.crop = crop; self.translate = translate; self.flip = flip; self.cutout = cutout
    }
    public var isActive: Bool { crop > 0 || translate > 0 || flip != .none || cutout > 0 }

    /// Augments `count` HWC images at `images` in place; image i sits at `firstPosition + i` of
    /// the epoch's `order` (the dataset's index of each position; nil: the position itself).
    /// `scratch` holds one image.
    public func apply(
        _ images: UnsafeMutablePointer<Float>, count: Int, shape: Shape, seed: UInt64, epoch: Int, order: [Int]? = nil, firstPosition: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        guard isActive else { return }
        let height = shape[0], width = shape[1], channels = shape[2], size = shape.count
        let epochKey = mix64(seed ^ mix64(UInt64(epoch) &+ 0xA5A5_0001))
        let shift = crop > 0 ? crop : translate
        for i in 0 ..< count {
            var bits = mix64(epochKey &+ UInt64(firstPosition + i) &* 0x9E37_79B9_7F4A_7C15)
            func draw(_ n: Int) -> Int {  // a uniform integer in 0 ..< n from the next 16 bits
                let value = Int(((bits & 0xFFFF) * UInt64(n)) >> 16)  // (Swift's >> binds tighter than *)
                bits >>= 16
                return value
            }
            let image = images + i * size
            let dy = shift > 0 ? draw(2 * shift + 1) - shift : 0
            let dx = shift > 0 ? draw(2 * shift + 1) - shift : 0
            let mirror: Bool
            switch flip {
            case .none: mirror = false
            case .random: mirror = draw(2) == 1
            case .alternating:
                // The image's own coin (by its index in the dataset), turned over every epoch.
                let index = order.map { $0[firstPosition + i] } ?? firstPosition + i
                mirror = (mix64(seed ^ mix64(UInt64(index) &+ 0xF11F)) & 1 == 1) != (epoch % 2 == 1)
            }
            if dy != 0 || dx != 0 || mirror {
                // out(y, x) = in(y + dy, x' + dx), x' = mirrored x; outside the image is zero
                // (crop) or the image reflected at its border (translate).
                scratch.update(from: image, count: size)
                for y in 0 ..< height {
                    let sy = crop > 0 ? y + dy : Augmentation.reflect(y + dy, height)
                    let row = image + y * width * channels
                    guard sy >= 0 && sy < height else { row.update(repeating: 0, count: width * channels); continue }
                    for x in 0 ..< width {
                        let sx = crop > 0 ? (mirror ? width - 1 - x : x) + dx : Augmentation.reflect((mirror ? width - 1 - x : x) + dx, width)
                        let out = row + x * channels
                        if sx >= 0 && sx < width {
                            out.update(from: scratch + (sy * width + sx) * channels, count: channels)
                        } else {
                            out.update(repeating: 0, count: channels)
                        }
                    }
                }
            }
            if cutout > 0 {
                let bits2 = mix64(bits ^ 0x5151)
                let cy = Int(((bits2 & 0xFFFF) * UInt64(height)) >> 16), cx = Int((((bits2 >> 16) & 0xFFFF) * UInt64(width)) >> 16)
                let y0 = max(0, cy - cutout / 2), y1 = min(height, cy - cutout / 2 + cutout)
                let x0 = max(0, cx - cutout / 2), x1 = min(width, cx - cutout / 2 + cutout)
                if x1 > x0 {
                    for y in y0 ..< y1 { (image + (y * width + x0) * channels).update(repeating: 0, count: (x1 - x0) * channels) }
                }
            }
        }
    }
}

extension Augmentation {
    /// Index i of a row or column of n pixels reflected at both ends without repeating the edge
    /// (… 2 1 | 0 1 … n−1 | n−2 n−3 …), any number of times.
    static func reflect(_ i: Int, _ n: Int) -> Int {
        guard n > 1 else { return 0 }
        let period = 2 * (n - 1)
        let folded = ((i % period) + period) % period
        return folded < n ? folded : period - folded
    }
}

/// Per-channel normalisation: x ← (x − mean[c]) / std[c].
public struct Normalization: Sendable, Equatable {
    public var mean: [Float]
    public var std: [Float]
    public init(mean: [Float], std: [Float]) { self.mean = mean; self.std = std }

    /// Mean and (population) standard deviation of each channel over every pixel of a dataset.
    public static func statistics(of data: Dataset) -> Normalization {
        let channels = data.shape.dimensions.last ?? 1
        var sum = [Double](repeating: 0, count: channels), squares = [Double](repeating: 0, count: channels)
        data.forEachChunk { _, count, values in
            for i in 0 ..< count * data.shape.count {
                let c = i % channels, value = values[i]
                sum[c] += Double(value); squares[c] += Double(value) * Double(value)
            }
        }
        let n = Double(max(data.count * data.shape.count / channels, 1))
        let mean = sum.map { $0 / n }
        let std = zip(squares, mean).map { max(($0 / n - $1 * $1).squareRoot(), 1e-6) }
        return Normalization(mean: mean.map(Float.init), std: std.map(Float.init))
    }

}

/// Test-time augmentation: a prediction averages the network's logits over views of each
/// image (weights summing to 1). airbench's six views: the image and its mirror (¼ each), and
/// both shifted by (−1, −1) and by (+1, +1) with reflected borders (⅛ each).
public enum TestTimeAugmentation: String, CaseIterable, Sendable {
    case none
    /// The image and its mirror, ½ each.
    case flip
    case flipTranslate = "flip_translate"

    /// Each view: mirrored or not, the shift (out(y, x) = in(y + dy, x + dx), borders reflected)
    /// and its weight.
    public var views: [(mirror: Bool, dy: Int, dx: Int, weight: Float)] {
        switch self {
        case .none: [(false, 0, 0, 1)]
        case .flip: [(false, 0, 0, 0.5), (true, 0, 0, 0.5)]
        case .flipTranslate:
            [
                (false, 0, 0, 0.25), (true, 0, 0, 0.25), (false, -1, -1, 0.125), (true, -1, -1, 0.125),
                (false, 1, 1, 0.125), (true, 1, 1, 0.125),
            ]
        }
    }

    /// Writes a view of `count` HWC images from `source` to `target` (distinct buffers).
    public static func render(
        mirror: Bool, dy: Int, dx: Int, _ source: UnsafePointer<Float>, count: Int, shape: Shape, _ target: UnsafeMutablePointer<Float>
    ) {
        let height = shape[0], width = shape[1], channels = shape[2], size = shape.count
        for n in 0 ..< count {
            let image = source + n * size, out = target + n * size
            for y in 0 ..< height {
                let sy = Augmentation.reflect(y + dy, height)
                for x in 0 ..< width {
                    let sx = Augmentation.reflect((mirror ? width - 1 - x : x) + dx, width)
                    (out + (y * width + x) * channels).update(from: image + (sy * width + sx) * channels, count: channels)
                }
            }
        }
    }
}

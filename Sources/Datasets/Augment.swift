import Tensor

/// Random changes to training images, each drawn from (seed, epoch, position in the epoch)
/// alone: a resumed run redraws exactly what the uninterrupted one drew, and the draw does not
/// depend on batch boundaries or threads.
public struct Augmentation: Sendable, Equatable {
    /// Zero-pad this many pixels per side, then take a random window of the original size
    /// (equivalently: shift by dy, dx ∈ −crop ... crop, filling with zeros).
    public var crop: Int
    /// Mirror left–right with probability ½.
    public var flip: Bool
    /// Zero a cutout × cutout square centred at a uniformly random pixel (clipped at the border).
    public var cutout: Int

    public init(crop: Int = 0, flip: Bool = false, cutout: Int = 0) { self.crop = crop; self.flip = flip; self.cutout = cutout }
    public var isActive: Bool { crop > 0 || flip || cutout > 0 }

    /// Augments `count` HWC images at `images` in place; image i sits at `firstPosition + i` of
    /// the epoch's order. `scratch` holds one image.
    public func apply(
        _ images: UnsafeMutablePointer<Float>, count: Int, shape: Shape, seed: UInt64, epoch: Int, firstPosition: Int,
        scratch: UnsafeMutablePointer<Float>
    ) {
        guard isActive else { return }
        let height = shape[0], width = shape[1], channels = shape[2], size = shape.count
        let epochKey = mix64(seed ^ mix64(UInt64(epoch) &+ 0xA5A5_0001))
        for i in 0 ..< count {
            var bits = mix64(epochKey &+ UInt64(firstPosition + i) &* 0x9E37_79B9_7F4A_7C15)
            func draw(_ n: Int) -> Int {  // a uniform integer in 0 ..< n from the next 16 bits
                let value = Int(((bits & 0xFFFF) * UInt64(n)) >> 16)  // (Swift's >> binds tighter than *)
                bits >>= 16
                return value
            }
            let image = images + i * size
            let dy = crop > 0 ? draw(2 * crop + 1) - crop : 0
            let dx = crop > 0 ? draw(2 * crop + 1) - crop : 0
            let mirror = flip && draw(2) == 1
            if dy != 0 || dx != 0 || mirror {
                // out(y, x) = in(y + dy, x' + dx), x' = mirrored x; outside the image is zero.
                scratch.update(from: image, count: size)
                for y in 0 ..< height {
                    let sy = y + dy
                    let row = image + y * width * channels
                    guard sy >= 0 && sy < height else { row.update(repeating: 0, count: width * channels); continue }
                    for x in 0 ..< width {
                        let sx = (mirror ? width - 1 - x : x) + dx
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

/// Per-channel normalisation: x ← (x − mean[c]) / std[c].
public struct Normalization: Sendable, Equatable {
    public var mean: [Float]
    public var std: [Float]
    public init(mean: [Float], std: [Float]) { self.mean = mean; self.std = std }

    /// Mean and (population) standard deviation of each channel over every pixel of a dataset.
    public static func statistics(of data: Dataset) -> Normalization {
        let channels = data.shape.dimensions.last ?? 1
        var sum = [Double](repeating: 0, count: channels), squares = [Double](repeating: 0, count: channels)
        data.images.withUnsafeBufferPointer { pixels in
            for (i, value) in pixels.enumerated() {
                let c = i % channels
                sum[c] += Double(value); squares[c] += Double(value) * Double(value)
            }
        }
        let n = Double(max(data.images.count / channels, 1))
        let mean = sum.map { $0 / n }
        let std = zip(squares, mean).map { max(($0 / n - $1 * $1).squareRoot(), 1e-6) }
        return Normalization(mean: mean.map(Float.init), std: std.map(Float.init))
    }

    public func apply(to data: inout Dataset) {
        let channels = mean.count
        precondition(channels == data.shape.dimensions.last, "normalisation has \(channels) channels, the images \(data.shape)")
        let scale = std.map { 1 / $0 }, mean = mean
        data.images.withUnsafeMutableBufferPointer { pixels in
            for i in pixels.indices {
                let c = i % channels
                pixels[i] = (pixels[i] - mean[c]) * scale[c]
            }
        }
    }
}

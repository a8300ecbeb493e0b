import Datasets
import Tensor
import Testing

@Suite("Augmentation and normalisation")
struct AugmentTests {
    /// A 5×6×2 image whose every value names its place: 100·y + 10·x + c + 1 (0 means padding).
    static let shape: Shape = [5, 6, 2]
    static func image() -> [Float] {
        var pixels: [Float] = []
        for y in 0 ..< 5 { for x in 0 ..< 6 { for c in 0 ..< 2 { pixels.append(Float(100 * y + 10 * x + c + 1)) } } }
        return pixels
    }

    @Test("crop and flip move whole pixels: each output is the input at (y + dy, x' + dx) or zero, one shift per image")
    func cropAndFlip() {
        let augmentation = Augmentation(crop: 2, flip: .random)
        var shifts = Set<[Int]>()
        for position in 0 ..< 200 {
            var pixels = Self.image()
            var scratch = [Float](repeating: 0, count: Self.shape.count)
            augmentation.apply(&pixels, count: 1, shape: Self.shape, seed: 7, epoch: 3, firstPosition: position, scratch: &scratch)
            // Recover (dy, dx, mirrored) from any non-zero output and check every pixel against it.
            var found: [Int]?
            for dy in -2 ... 2 {
                for dx in -2 ... 2 {
                    for mirror in [0, 1] {
                        var ok = true
                        for y in 0 ..< 5 {
                            for x in 0 ..< 6 {
                                let sy = y + dy, sx = (mirror == 1 ? 5 - x : x) + dx
                                for c in 0 ..< 2 {
                                    let expected: Float = sy >= 0 && sy < 5 && sx >= 0 && sx < 6 ? Float(100 * sy + 10 * sx + c + 1) : 0
                                    if pixels[(y * 6 + x) * 2 + c] != expected { ok = false }
                                }
                            }
                        }
                        if ok && found == nil { found = [dy, dx, mirror] }
                    }
                }
            }
            #expect(found != nil, "position \(position): the output is not a shifted, possibly mirrored copy")
            if let found { shifts.insert(found) }
        }
        // 200 draws over 5 × 5 × 2 = 50 possibilities: nearly all of them appear.
        #expect(shifts.count >= 45, "only \(shifts.count) of 50 shifts drawn")
    }

    @Test("translate shifts with the border reflected (PyTorch's reflect padding): every output is in(reflect(y + dy), reflect(x + dx))")
    func translateReflects() {
        func reflect(_ i: Int, _ n: Int) -> Int { i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i }  // enough for |shift| < n
        let augmentation = Augmentation(translate: 2)
        var shifts = Set<[Int]>()
        for position in 0 ..< 100 {
            var pixels = Self.image()
            var scratch = [Float](repeating: 0, count: Self.shape.count)
            augmentation.apply(&pixels, count: 1, shape: Self.shape, seed: 5, epoch: 0, firstPosition: position, scratch: &scratch)
            var found: [Int]?
            for dy in -2 ... 2 {
                for dx in -2 ... 2 where found == nil {
                    var ok = true
                    for y in 0 ..< 5 {
                        for x in 0 ..< 6 {
                            for c in 0 ..< 2 where pixels[(y * 6 + x) * 2 + c] != Float(100 * reflect(y + dy, 5) + 10 * reflect(x + dx, 6) + c + 1) {
                                ok = false
                            }
                        }
                    }
                    if ok { found = [dy, dx] }
                }
            }
            #expect(found != nil, "position \(position): not a reflected shift")
            if let found { shifts.insert(found) }
            #expect(!pixels.contains(0), "reflection leaves no zero")
        }
        #expect(shifts.count >= 23, "only \(shifts.count) of 25 shifts drawn")
    }

    @Test("alternating flip: each image (by its index in the dataset) at random in epoch 0, then the opposite every epoch")
    func alternatingFlip() {
        let augmentation = Augmentation(flip: .alternating)
        let order = Array((0 ..< 64).reversed())  // positions ≠ indices: the coin follows the image
        func mirrored(epoch: Int, order: [Int]) -> [Int: Bool] {
            var pixels = (0 ..< 64).flatMap { _ in Self.image() }
            var scratch = [Float](repeating: 0, count: Self.shape.count)
            augmentation.apply(&pixels, count: 64, shape: Self.shape, seed: 3, epoch: epoch, order: order, firstPosition: 0, scratch: &scratch)
            var result: [Int: Bool] = [:]
            for position in 0 ..< 64 { result[order[position]] = pixels[position * Self.shape.count] != Self.image()[0] }
            return result
        }
        let first = mirrored(epoch: 0, order: order)
        #expect((16 ... 48).contains(first.values.filter { $0 }.count), "about half mirrored in epoch 0")
        for epoch in 1 ... 3 {
            let now = mirrored(epoch: epoch, order: order.shuffled())
            for index in 0 ..< 64 { #expect(now[index] == (first[index]! != (epoch % 2 == 1)), "image \(index), epoch \(epoch)") }
        }
    }

    @Test("the same (seed, epoch, position) draws the same change; another epoch draws another")
    func reproducible() {
        let augmentation = Augmentation(crop: 2, flip: .random, cutout: 2)
        func run(epoch: Int) -> [Float] {
            var pixels = (0 ..< 4).flatMap { _ in Self.image() }
            var scratch = [Float](repeating: 0, count: Self.shape.count)
            augmentation.apply(&pixels, count: 4, shape: Self.shape, seed: 1, epoch: epoch, firstPosition: 10, scratch: &scratch)
            return pixels
        }
        #expect(run(epoch: 0) == run(epoch: 0))
        #expect(run(epoch: 0) != run(epoch: 1))
    }

    @Test("cutout zeroes one square of at most side × side pixels and nothing else")
    func cutout() {
        let augmentation = Augmentation(cutout: 3)
        for position in 0 ..< 50 {
            var pixels = Self.image()
            var scratch = [Float](repeating: 0, count: Self.shape.count)
            augmentation.apply(&pixels, count: 1, shape: Self.shape, seed: 2, epoch: 0, firstPosition: position, scratch: &scratch)
            let zeroed = (0 ..< 30).filter { pixels[2 * $0] == 0 }
            #expect(zeroed.count >= 1 && zeroed.count <= 9)
            let ys = zeroed.map { $0 / 6 }, xs = zeroed.map { $0 % 6 }
            #expect(zeroed.count == (ys.max()! - ys.min()! + 1) * (xs.max()! - xs.min()! + 1), "not a rectangle")
            for i in 0 ..< 30 where !zeroed.contains(i) { #expect(pixels[2 * i] == Self.image()[2 * i]) }
        }
    }

    @Test("normalize: auto gives each channel mean 0 and standard deviation 1")
    func normalization() {
        var random = RandomSource(seed: 3)
        var images: [Float] = []
        for i in 0 ..< 40 * 3 {
            let channel = Float(i % 3)
            images.append(channel * 10 + random.uniform(0, channel + 1))
        }
        let data = Dataset(name: "t", shape: [2, 2, 3], classNames: ["a"], images: images, labels: [Int32](repeating: 0, count: 10))
        let normalized = data.normalized(by: Normalization.statistics(of: data))
        for c in 0 ..< 3 {
            var values: [Double] = []
            for i in stride(from: c, to: normalized.images.count, by: 3) { values.append(Double(normalized.images[i])) }
            let mean = values.reduce(0, +) / Double(values.count)
            var variance = 0.0
            for value in values { variance += (value - mean) * (value - mean) }
            variance /= Double(values.count)
            #expect(abs(mean) < 1e-5 && abs(variance - 1) < 1e-4)
        }
        #expect(normalized.normalization != nil)
    }
}

@Suite("Test-time augmentation views")
struct TestTimeAugmentationTests {
    @Test("each set of views weighs 1 in all; a view is the image mirrored and shifted with reflected borders")
    func views() {
        for tta in TestTimeAugmentation.allCases { #expect(abs(tta.views.map(\.weight).reduce(0, +) - 1) < 1e-6, "\(tta)") }
        #expect(TestTimeAugmentation.flipTranslate.views.count == 6)
        let shape: Shape = [5, 6, 2]
        let image = AugmentTests.image()
        func reflect(_ i: Int, _ n: Int) -> Int { i < 0 ? -i : i >= n ? 2 * (n - 1) - i : i }
        for (mirror, dy, dx) in [(true, 0, 0), (false, -1, -1), (true, 1, 1)] {
            var out = [Float](repeating: .nan, count: shape.count)
            TestTimeAugmentation.render(mirror: mirror, dy: dy, dx: dx, image, count: 1, shape: shape, &out)
            for y in 0 ..< 5 {
                for x in 0 ..< 6 {
                    let sy = reflect(y + dy, 5), sx = reflect((mirror ? 5 - x : x) + dx, 6)
                    for c in 0 ..< 2 { #expect(out[(y * 6 + x) * 2 + c] == Float(100 * sy + 10 * sx + c + 1)) }
                }
            }
        }
    }
}

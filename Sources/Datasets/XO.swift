import Foundation
import Tensor

/// The toy of the CNN tutorial this project starts from: X and O glyphs drawn with pixels of
/// −1 (background) and +1 (ink), varied in position, scale and stroke thickness, with noise.
/// Generated from the seed, so every run sees the same images.
public enum XO {
    public static let classNames = ["x", "o"]

    public static func generate(samples: Int, size: Int, noise: Double, seed: UInt64) -> Dataset {
        var random = RandomSource(seed: seed, stream: "xo")
        var images = [Float](repeating: -1, count: samples * size * size)
        var labels = [Int32](repeating: 0, count: samples)
        let side = Double(size)
        for n in 0 ..< samples {
            let isO = n % 2 == 1
            labels[n] = isO ? 1 : 0
            let radius = side * Double(random.uniform(0.3, 0.45))
            let centerX = side / 2 + Double(random.uniform(-1, 1)) * (side / 2 - radius - 0.5)
            let centerY = side / 2 + Double(random.uniform(-1, 1)) * (side / 2 - radius - 0.5)
            let thickness = Double(random.uniform(0.5, 1.0))
            for y in 0 ..< size {
                for x in 0 ..< size {
                    let dx = Double(x) + 0.5 - centerX, dy = Double(y) + 0.5 - centerY
                    let ink: Bool
                    if isO {
                        ink = abs((dx * dx + dy * dy).squareRoot() - radius) <= thickness
                    } else {
                        // Two diagonals through the centre, inside the glyph's box.
                        let inBox = abs(dx) <= radius && abs(dy) <= radius
                        ink = inBox && min(abs(dx - dy), abs(dx + dy)) / 2.0.squareRoot() <= thickness
                    }
                    var value: Float = ink ? 1 : -1
                    value += Float(noise) * random.normal()
                    images[(n * size + y) * size + x] = value
                }
            }
        }
        return Dataset(name: "xo", shape: [size, size, 1], classNames: classNames, images: images, labels: labels)
    }
}

extension XO: DatasetKind {
    public static let name = "xo"
    public static let keys = ["samples", "size", "noise"]
    public static func imageShape(_ options: DatasetOptions) -> Shape? { [options.size, options.size, 1] }
    public static func classes(_ options: DatasetOptions) -> Int { classNames.count }
    public static func trainExamples(_ options: DatasetOptions) -> Int? { options.samples }
    public static func load(_ split: Split, _ options: DatasetOptions, trainClasses: [String]?, log: (String) -> Void) throws(DataError) -> Dataset {
        guard split == .train else { throw missing(split) }
        return generate(samples: options.samples, size: options.size, noise: options.noise, seed: options.seed)
    }
}

import Foundation
import Tensor

/// The UCI handwritten digits (scikit-learn's `load_digits`): 1,797 images of 8×8 pixels with
/// values 0–16, labels 0–9. Shipped with runner (Resources/digits.csv.gz, licence in digits.rst),
/// so a first run needs no download. Pixels are scaled to [0, 1].
public enum Digits {
    public static let shape: Shape = [8, 8, 1]
    public static let classNames = (0 ... 9).map(String.init)

    public static func load() throws(DataError) -> Dataset {
        guard let url = Bundle.module.url(forResource: "digits.csv", withExtension: "gz", subdirectory: "Resources"),
            let compressed = try? Data(contentsOf: url)
        else {
            throw DataError(
                file: "digits.csv.gz", "the built-in digits file is missing from runner's resources", hint: "rebuild runner from a complete checkout")
        }
        return try parse(try gunzip(compressed, file: url.path), file: url.path)
    }

    /// Parses CSV rows of 64 pixel values then the label.
    static func parse(_ data: Data, file: String) throws(DataError) -> Dataset {
        var images: [Float] = [], labels: [Int32] = []
        var offset = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            defer { offset += line.count + 1 }
            if line.isEmpty { continue }
            let fields = line.split(separator: UInt8(ascii: ","))
            guard fields.count == 65 else {
                throw DataError(
                    file: file, offset: offset, "expected 65 comma-separated values (64 pixels, label), found \(fields.count)",
                    hint: "the file is damaged; restore it")
            }
            for (column, field) in fields.enumerated() {
                guard let value = Int(String(decoding: field, as: UTF8.self)), value >= 0, value <= (column == 64 ? 9 : 16) else {
                    throw DataError(
                        file: file, offset: offset, "value '\(String(decoding: field, as: UTF8.self))' in column \(column + 1) is out of range",
                        hint: "pixels are 0–16, labels 0–9")
                }
                if column == 64 { labels.append(Int32(value)) } else { images.append(Float(value) / 16) }
            }
        }
        return Dataset(name: "digits", shape: shape, classNames: classNames, images: images, labels: labels)
    }
}

extension Digits: DatasetKind {
    public static let name = "digits"
    public static let keys: [String] = []
    public static func imageShape(_ options: DatasetOptions) -> Shape? { shape }
    public static func classes(_ options: DatasetOptions) -> Int { classNames.count }
    public static func trainExamples(_ options: DatasetOptions) -> Int? { 1797 }
    public static func load(_ split: Split, _ options: DatasetOptions, trainClasses: [String]?, log: (String) -> Void) throws(DataError) -> Dataset {
        guard split == .train else { throw missing(split) }
        return try load()
    }
}

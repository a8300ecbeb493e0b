import Files
import Foundation
import Tensor

/// MNIST and Fashion-MNIST: four gzip-compressed IDX files (images: magic 0x00000803, then
/// count, rows, columns as big-endian 32-bit, then one byte per pixel; labels: 0x00000801, count,
/// one byte per label). Missing files are downloaded from `url` (a folder) and checked against
/// their published SHA-256. Pixels are scaled to [0, 1].
public struct IDXDataset: Sendable {
    public var name: String
    public var defaultURL: String
    public var classNames: [String]
    /// File name → SHA-256 of the gzip file as published.
    public var checksums: [String: String]

    public static let shape: Shape = [28, 28, 1]

    public static let mnist = IDXDataset(
        name: "mnist", defaultURL: "https://ossci-datasets.s3.amazonaws.com/mnist/", classNames: (0 ... 9).map(String.init),
        checksums: [
            "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
            "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
            "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
            "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        ])

    public static let fashionMNIST = IDXDataset(
        name: "fashion_mnist", defaultURL: "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        classNames: ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"],
        checksums: [
            "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
            "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
            "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
            "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
        ])

    public static func named(_ name: String) -> IDXDataset? { [mnist, fashionMNIST].first { $0.name == name } }

    /// The split ("train" or "test") from `root`, downloading missing files from `url`.
    /// `checksums` overrides the published digests file by file.
    public func load(
        root: String, split: String, url: String? = nil, checksums overrides: [String: String] = [:],
        log: (String) -> Void
    ) throws(DataError) -> Dataset {
        let prefix = split == "test" ? "t10k" : "train"
        let imagesFile = "\(prefix)-images-idx3-ubyte.gz", labelsFile = "\(prefix)-labels-idx1-ubyte.gz"
        var base = url ?? defaultURL
        if !base.hasSuffix("/") { base += "/" }
        var payloads: [Data] = []
        for file in [imagesFile, labelsFile] {
            let path = (root as NSString).appendingPathComponent(file)
            try Download.fetch(base + file, to: path, sha256: overrides[file] ?? checksums[file]!, log: log)
            let compressed: Data
            do { compressed = try FileLimits.read(path, cap: FileLimits.datasetFile, kind: "IDX file") } catch { throw DataError(error) }
            payloads.append(try gunzip(compressed, file: path))
        }
        let imagesPath = (root as NSString).appendingPathComponent(imagesFile)
        let labelsPath = (root as NSString).appendingPathComponent(labelsFile)
        let images = try IDXDataset.decodeImages(payloads[0], file: imagesPath)
        let labels = try IDXDataset.decodeLabels(payloads[1], file: labelsPath, classes: classNames.count)
        guard labels.count == images.count / IDXDataset.shape.count else {
            throw DataError(
                file: labelsPath, "\(labels.count) labels for \(images.count / IDXDataset.shape.count) images in \(imagesFile)",
                hint: "the two files are not from the same split: delete them to download them again")
        }
        return Dataset(name: name, shape: IDXDataset.shape, classNames: classNames, bytes: images, labels: labels)
    }

    static func bigEndian(_ data: Data, _ offset: Int) -> Int {
        let b = data.startIndex + offset
        return Int(data[b]) << 24 | Int(data[b + 1]) << 16 | Int(data[b + 2]) << 8 | Int(data[b + 3])
    }

    /// 28×28 images of bytes → floats in [0, 1].
    public static func decodeImages(_ data: Data, file: String) throws(DataError) -> [UInt8] {
        guard data.count >= 16 else {
            throw DataError(
                file: file, offset: data.count, "an IDX image header needs 16 bytes, the file has \(data.count)",
                hint: "the file is truncated: delete it to download it again")
        }
        guard bigEndian(data, 0) == 0x0803 else {
            throw DataError(
                file: file, offset: 0, String(format: "magic number 0x%08x is not an IDX image file's 0x00000803", bigEndian(data, 0)),
                hint: "check that this is an *-images-idx3-ubyte.gz file")
        }
        let count = bigEndian(data, 4), rows = bigEndian(data, 8), columns = bigEndian(data, 12)
        guard rows == 28 && columns == 28 else {
            throw DataError(file: file, offset: 8, "images are \(rows)×\(columns), expected 28×28", hint: "use a MNIST-format file")
        }
        let expected = 16 + count * 784
        guard data.count == expected else {
            throw DataError(
                file: file, offset: min(data.count, expected), "\(count) images need \(expected) bytes, the file has \(data.count)",
                hint: "the file is truncated or damaged: delete it to download it again")
        }
        return [UInt8](data.dropFirst(16))  // a byte a pixel, as stored
    }

    public static func decodeLabels(_ data: Data, file: String, classes: Int) throws(DataError) -> [Int32] {
        guard data.count >= 8 else {
            throw DataError(
                file: file, offset: data.count, "an IDX label header needs 8 bytes, the file has \(data.count)",
                hint: "the file is truncated: delete it to download it again")
        }
        guard bigEndian(data, 0) == 0x0801 else {
            throw DataError(
                file: file, offset: 0, String(format: "magic number 0x%08x is not an IDX label file's 0x00000801", bigEndian(data, 0)),
                hint: "check that this is an *-labels-idx1-ubyte.gz file")
        }
        let count = bigEndian(data, 4)
        guard data.count == 8 + count else {
            throw DataError(
                file: file, offset: min(data.count, 8 + count), "\(count) labels need \(8 + count) bytes, the file has \(data.count)",
                hint: "the file is truncated or damaged: delete it to download it again")
        }
        var labels = [Int32](repeating: 0, count: count)
        for i in 0 ..< count {
            let label = Int(data[data.startIndex + 8 + i])
            guard label < classes else {
                throw DataError(
                    file: file, offset: 8 + i, "label \(label) is out of range 0…\(classes - 1)", hint: "the file is damaged: delete it to download it again")
            }
            labels[i] = Int32(label)
        }
        return labels
    }
}

/// A dataset in IDX files (MNIST's format): everything but which files and classes is shared.
public protocol IDXKind: DatasetKind {
    static var files: IDXDataset { get }
}

extension IDXKind {
    public static var name: String { files.name }
    public static var keys: [String] { ["root", "url", "sha256"] }
    public static var defaultRoot: String? { "data/\(files.name)" }
    public static var defaultValidation: Double { 5000 }
    public static var checksummedFiles: [String] { files.checksums.keys.sorted() }
    public static func hasTestSplit(_ options: DatasetOptions) -> Bool { true }
    public static func imageShape(_ options: DatasetOptions) -> Shape? { IDXDataset.shape }
    public static func classes(_ options: DatasetOptions) -> Int { files.classNames.count }
    public static func trainExamples(_ options: DatasetOptions) -> Int? { 60_000 }
    public static func load(_ split: Split, _ options: DatasetOptions, trainClasses: [String]?, log: (String) -> Void) throws(DataError) -> Dataset {
        try files.load(root: options.root ?? "data/\(name)", split: split.rawValue, url: options.url, checksums: options.checksums, log: log)
    }
}

public enum MNIST: IDXKind {
    public static let files = IDXDataset.mnist
}

public enum FashionMNIST: IDXKind {
    public static let files = IDXDataset.fashionMNIST
}

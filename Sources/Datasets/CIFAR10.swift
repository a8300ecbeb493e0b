import Files
import Foundation
import Tensor

/// CIFAR-10 in the official binary layout: `data_batch_1.bin` … `data_batch_5.bin` and
/// `test_batch.bin`, 10,000 records each of 1 label byte and 3,072 pixel bytes (1,024 red, then
/// green, then blue, each row-major 32×32). Decoded to NHWC floats in [0, 1].
public enum CIFAR10 {
    public static let shape: Shape = [32, 32, 3]
    public static let classNames = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    static let recordSize = 1 + 3072
    /// The archive the CIFAR-10 site serves, and its SHA-256 (170,052,171 bytes; the site
    /// publishes its MD5, c32a1d4ab5d03f1284b67883e8d87530).
    public static let url = "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz"
    public static let sha256 = "c4a38c50a1bc5f3a1c5537f2155ab9d68f9f25eb1ed8d9ddda3db29a59bca1dd"
    static let files = (1 ... 5).map { "data_batch_\($0).bin" } + ["test_batch.bin", "batches.meta.txt"]

    /// Makes sure the batch files are under `root`: when they are missing, downloads the archive
    /// from `url` into `root`, checks `sha256`, and extracts the batch files into
    /// `root/cifar-10-batches-bin/`. A present archive is checked and extracted, not downloaded.
    public static func ensure(root: String, url: String = url, sha256: String = sha256, log: (String) -> Void) throws(DataError) {
        let direct = (root as NSString).appendingPathComponent("data_batch_1.bin")
        let nested = (root as NSString).appendingPathComponent("cifar-10-batches-bin/test_batch.bin")
        let folder = (root as NSString).appendingPathComponent("cifar-10-batches-bin")
        if FileManager.default.fileExists(atPath: direct)
            || (FileManager.default.fileExists(atPath: nested)
                && files.allSatisfy { FileManager.default.fileExists(atPath: (folder as NSString).appendingPathComponent($0)) || $0.hasSuffix(".txt") })
        {
            return
        }
        let archive = (root as NSString).appendingPathComponent(Download.safeFileName(fromURL: url, default: "cifar-10-binary.tar.gz"))
        try Download.fetch(url, to: archive, sha256: sha256, log: log)
        let extracted = try Download.extract(tarGz: archive, names: Set(files), into: folder)
        let missing = files.filter { !$0.hasSuffix(".txt") && !extracted.contains($0) }
        guard missing.isEmpty else {
            throw DataError(
                file: archive, "the archive lacks \(missing.joined(separator: ", "))", hint: "check data.url: it must be the CIFAR-10 binary version")
        }
        log("Extracted \(extracted.count) files into \(folder)")
    }

    /// Finds the batch files under `root` (directly, or in `cifar-10-batches-bin/`).
    public static func load(root: String, split: String) throws(DataError) -> Dataset {
        let names = split == "test" ? ["test_batch.bin"] : (1 ... 5).map { "data_batch_\($0).bin" }
        var folder = root
        if !FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent(names[0])) {
            folder = (root as NSString).appendingPathComponent("cifar-10-batches-bin")
        }
        var images: [UInt8] = [], labels: [Int32] = []
        images.reserveCapacity(names.count * 10_000 * 3072)  // the official files' size: grown once, not file by file
        for name in names {
            let path = (folder as NSString).appendingPathComponent(name)
            // 1,000 records at a time: a 30 MB file is never held whole beside the images.
            var failure: DataError?
            do {
                try FileLimits.read(path, cap: FileLimits.datasetFile, kind: "CIFAR-10 batch file", chunk: 1000 * recordSize) { bytes, offset, size in
                    do throws(DataError) {
                        if offset == 0 { try checkSize(size, file: path) }
                        try decode(bytes, at: offset, file: path, images: &images, labels: &labels)
                        return true
                    } catch {
                        failure = error
                        return false
                    }
                }
            } catch {
                throw DataError(
                    file: path, error.message,
                    hint: "set data.root to the folder holding data_batch_1.bin … test_batch.bin (extract cifar-10-binary.tar.gz there)")
            }
            if let failure { throw failure }
        }
        return Dataset(name: "cifar10", shape: shape, classNames: classNames, bytes: images, labels: labels)
    }

    /// Decodes one batch file's bytes.
    public static func decode(_ data: Data, file: String) throws(DataError) -> Dataset {
        var images: [UInt8] = [], labels: [Int32] = []
        try decode(data, file: file, images: &images, labels: &labels)
        return Dataset(name: "cifar10", shape: shape, classNames: classNames, bytes: images, labels: labels)
    }

    static func decode(_ data: Data, file: String, images: inout [UInt8], labels: inout [Int32]) throws(DataError) {
        try checkSize(data.count, file: file)
        images.reserveCapacity(images.count + data.count / recordSize * 3072)
        var failure: DataError?
        data.withUnsafeBytes { bytes in
            do throws(DataError) { try decode(bytes, at: 0, file: file, images: &images, labels: &labels) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// A batch file holds whole records.
    static func checkSize(_ size: Int, file: String) throws(DataError) {
        guard size % recordSize == 0 else {
            throw DataError(
                file: file, offset: size - size % recordSize,
                "the file ends inside a record (\(size) bytes is not a multiple of \(recordSize))", hint: "the file is truncated; extract it again")
        }
    }

    /// Decodes whole records that start `offset` bytes into the file: a label byte, then the
    /// image's three 32×32 planes (CHW), appended as HWC.
    static func decode(_ bytes: UnsafeRawBufferPointer, at offset: Int, file: String, images: inout [UInt8], labels: inout [Int32]) throws(DataError) {
        for record in 0 ..< bytes.count / recordSize {
            let base = record * recordSize
            guard bytes[base] < 10 else {
                throw DataError(file: file, offset: offset + base, "label \(bytes[base]) is out of range 0–9", hint: "the file is damaged; extract it again")
            }
            labels.append(Int32(bytes[base]))
            for pixel in 0 ..< 1024 {
                for channel in 0 ..< 3 { images.append(bytes[base + 1 + channel * 1024 + pixel]) }  // CHW → HWC
            }
        }
    }
}

extension CIFAR10: DatasetKind {
    public static let name = "cifar10"
    public static let keys = ["root", "url", "sha256"]
    public static let defaultRoot: String? = "data/cifar10"
    public static let defaultValidation = 5000.0
    public static func hasTestSplit(_ options: DatasetOptions) -> Bool { true }
    public static func imageShape(_ options: DatasetOptions) -> Shape? { shape }
    public static func classes(_ options: DatasetOptions) -> Int { classNames.count }
    public static func trainExamples(_ options: DatasetOptions) -> Int? { 50_000 }
    public static func load(_ split: Split, _ options: DatasetOptions, trainClasses: [String]?, log: (String) -> Void) throws(DataError) -> Dataset {
        let root = options.root ?? "data/cifar10"
        try ensure(root: root, url: options.url ?? url, sha256: options.sha256 ?? sha256, log: log)
        return try load(root: root, split: split.rawValue)
    }
}

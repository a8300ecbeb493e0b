import Files
import Foundation
import Tensor

/// Labelled examples held in memory, NHWC, one after another, in their own bytes where they
/// have them: CIFAR-10 and MNIST-format sets keep a byte a pixel (a quarter of float32), read
/// as x = byte / 255; other sets keep floats. `normalization`, when set, is applied as examples
/// are read, so every reader (batches, evaluation, statistics, whitening) sees
/// (x − mean[c]) · (1 / std[c]) exactly as a dataset normalised in place once did.
public struct Dataset: Sendable {
    public var name: String
    public var shape: Shape
    public var classNames: [String]
    public var labels: [Int32]
    /// The pixels as stored.
    public var pixels: Pixels
    /// The per-channel normalisation applied to every example read, if any (the test split must
    /// get the training split's). Set by `normalized(by:)`, with its reciprocals.
    public private(set) var normalization: Normalization?
    /// 1 / std[c] of `normalization`, computed once rather than for every example read.
    private var reciprocalStd: [Float] = []
    /// For bytes: what each byte b of channel c reads as, (b / 255 − mean[c]) · (1 / std[c]) at
    /// [c · 256 + b], the same float operations done once per value rather than per pixel.
    private var normalizedByteValues: [Float] = []

    public enum Pixels: Sendable {
        /// Values in [0, 1] as byte / 255.
        case bytes([UInt8])
        case floats([Float])
    }

    public var count: Int { labels.count }
    public var classes: Int { classNames.count }

    public init(name: String, shape: Shape, classNames: [String], images: [Float], labels: [Int32]) {
        precondition(images.count == labels.count * shape.count, "images and labels disagree")
        self.name = name; self.shape = shape; self.classNames = classNames; self.pixels = .floats(images); self.labels = labels
    }

    public init(name: String, shape: Shape, classNames: [String], bytes: [UInt8], labels: [Int32]) {
        precondition(bytes.count == labels.count * shape.count, "images and labels disagree")
        self.name = name; self.shape = shape; self.classNames = classNames; self.pixels = .bytes(bytes); self.labels = labels
    }

    /// byte / 255 for every byte, computed as the loaders always computed it.
    static let byteValues: [Float] = (0 ..< 256).map { Float($0) / 255 }

    /// Writes `count` examples from `first` as the network sees them (decoded, normalised).
    public func copyExamples(_ first: Int, count: Int, into target: UnsafeMutablePointer<Float>) {
        let size = shape.count, values = count * size
        switch pixels {
        case .bytes(let bytes):
            // A table lookup per value, normalisation included: no division or modulo per pixel.
            let channels = normalization == nil ? 1 : normalizedByteValues.count / 256
            (normalization == nil ? Self.byteValues : normalizedByteValues).withUnsafeBufferPointer { table in
                bytes.withUnsafeBufferPointer { source in
                    let start = source.baseAddress! + first * size
                    var i = 0
                    while i < values {
                        for c in 0 ..< channels { target[i + c] = table[c << 8 | Int(start[i + c])] }
                        i += channels
                    }
                }
            }
            return
        case .floats(let floats):
            floats.withUnsafeBufferPointer { target.update(from: $0.baseAddress! + first * size, count: values) }
        }
        guard let normalization else { return }
        let channels = normalization.mean.count
        normalization.mean.withUnsafeBufferPointer { mean in
            reciprocalStd.withUnsafeBufferPointer { scale in
                for i in 0 ..< values {
                    let c = i % channels
                    target[i] = (target[i] - mean[c]) * scale[c]
                }
            }
        }
    }

    /// Every value, decoded and normalised, in one array: for tests and small data (it holds the
    /// whole dataset as floats).
    public var images: [Float] {
        [Float](unsafeUninitializedCapacity: count * shape.count) { buffer, initialized in
            if count > 0 { copyExamples(0, count: count, into: buffer.baseAddress!) }
            initialized = count * shape.count
        }
    }

    /// Calls `body` with runs of at most `chunk` consecutive examples as the network sees them
    /// (the first example's index, how many, their values), one buffer reused.
    public func forEachChunk(of chunk: Int = 256, _ body: (Int, Int, UnsafePointer<Float>) -> Void) {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(chunk * shape.count, 1))
        defer { buffer.deallocate() }
        var first = 0
        while first < count {
            let n = min(chunk, count - first)
            copyExamples(first, count: n, into: buffer)
            body(first, n, buffer)
            first += n
        }
    }

    /// A 64-bit fingerprint of every pixel (as the network sees it) and label (hex), so that a
    /// resumed run can tell whether its data changed underneath it.
    public var fingerprint: String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        forEachChunk { _, n, values in
            for i in 0 ..< n * shape.count { hash = (hash ^ UInt64(values[i].bitPattern)) &* 0x100_0000_01B3 }
        }
        for label in labels { hash = (hash ^ UInt64(UInt32(bitPattern: label))) &* 0x100_0000_01B3 }
        return String(hash, radix: 16)
    }

    /// The examples at `indices`, in that order (in the same bytes or floats).
    public func subset(_ indices: [Int]) -> Dataset {
        let size = shape.count
        var result = self
        result.labels = indices.map { labels[$0] }
        func gather<T>(_ values: [T]) -> [T] {
            var picked = [T](); picked.reserveCapacity(indices.count * size)
            for index in indices { picked.append(contentsOf: values[index * size ..< (index + 1) * size]) }
            return picked
        }
        switch pixels {
        case .bytes(let bytes): result.pixels = .bytes(gather(bytes))
        case .floats(let floats): result.pixels = .floats(gather(floats))
        }
        return result
    }

    /// A seeded split into (train, validation): `validation` examples, or that fraction when < 1.
    /// Consumes the dataset: the training part is compacted in its own storage (no second copy
    /// of the training set exists at any moment), the validation part copied out.
    public consuming func split(validation: Double, seed: UInt64) -> (train: Dataset, validation: Dataset) {
        let held = validation < 1 ? Int((validation * Double(count)).rounded()) : Int(validation)
        let heldOut = min(max(held, 1), count - 1)
        var random = RandomSource(seed: seed, stream: "split")
        var order = Array(0 ..< count)
        order.shuffle(using: &random)
        let validationPart = subset(Array(order[..<heldOut]).sorted())
        var train = self
        train.keep(Array(order[heldOut...]).sorted())
        return (train, validationPart)
    }

    /// Keeps the examples at `indices` (ascending), moved down in place.
    mutating func keep(_ indices: [Int]) {
        let size = shape.count
        func compact<T>(_ values: inout [T]) {
            values.withUnsafeMutableBufferPointer { buffer in
                for (to, from) in indices.enumerated() where to != from {
                    for k in 0 ..< size { buffer[to * size + k] = buffer[from * size + k] }
                }
            }
            values.removeLast(values.count - indices.count * size)
            // The held-out tail would stay allocated (and resident: the loader wrote it) for
            // the whole run; CIFAR-10's is 14.6 MiB. Moved once into a buffer of the kept size.
            if values.capacity - values.count > 1 << 20 {
                values = [T](unsafeUninitializedCapacity: values.count) { target, initialized in
                    initialized = values.withUnsafeBufferPointer { source in target.initialize(fromContentsOf: source) }
                }
            }
        }
        labels = indices.map { labels[$0] }
        switch pixels {
        case .bytes(var bytes):
            pixels = .floats([])  // this value's reference dropped: `bytes` is the only one
            compact(&bytes)
            pixels = .bytes(bytes)
        case .floats(var floats):
            pixels = .floats([])
            compact(&floats)
            pixels = .floats(floats)
        }
    }
}

/// A dataset that cannot be read: names the file and, where it helps, the byte offset.
public struct DataError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var offset: Int?
    public var message: String
    public var hint: String
    public init(file: String, offset: Int? = nil, _ message: String, hint: String) {
        self.file = file; self.offset = offset; self.message = message; self.hint = hint
    }
    /// A file the read policy refused or could not read.
    public init(_ error: FileError) { self.init(file: error.path, error.message, hint: error.hint) }
    public var description: String {
        let place = offset.map { "\(file): byte \($0)" } ?? file
        return "\(place): error: \(message)\nhint: \(hint)"
    }
}

extension Dataset {
    /// This dataset normalised by `normalization`: recorded, and applied as examples are read
    /// (nothing is copied). On a dataset already normalised, the values read so far become its
    /// floats and the new normalisation applies on top, as normalising twice in place would.
    public func normalized(by normalization: Normalization) -> Dataset {
        precondition(normalization.mean.count == shape.dimensions.last, "normalisation has \(normalization.mean.count) channels, the images \(shape)")
        var copy = self
        if self.normalization != nil { copy.pixels = .floats(images) }
        copy.normalization = normalization
        copy.reciprocalStd = normalization.std.map { 1 / $0 }
        copy.normalizedByteValues = (0 ..< normalization.mean.count * 256).map { i in
            (Self.byteValues[i & 255] - normalization.mean[i >> 8]) * copy.reciprocalStd[i >> 8]
        }
        return copy
    }
}

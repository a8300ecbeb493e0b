import Files
import Foundation
import Tensor

/// Labelled examples held in memory: images as floats, NHWC, one after another.
public struct Dataset: Sendable {
    public var name: String
    public var shape: Shape
    public var classNames: [String]
    public var images: [Float]
    public var labels: [Int32]
    /// The per-channel normalisation applied to `images`, if any (the test split must get the
    /// training split's).
    public var normalization: Normalization?

    public var count: Int { labels.count }
    public var classes: Int { classNames.count }

    public init(name: String, shape: Shape, classNames: [String], images: [Float], labels: [Int32]) {
        precondition(images.count == labels.count * shape.count, "images and labels disagree")
        self.name = name; self.shape = shape; self.classNames = classNames; self.images = images; self.labels = labels
    }

    /// A 64-bit fingerprint of every pixel and label (hex), so that a resumed run can tell
    /// whether its data changed underneath it.
    public var fingerprint: String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        images.withUnsafeBufferPointer { pixels in
            for value in pixels { hash = (hash ^ UInt64(value.bitPattern)) &* 0x100_0000_01B3 }
        }
        for label in labels { hash = (hash ^ UInt64(UInt32(bitPattern: label))) &* 0x100_0000_01B3 }
        return String(hash, radix: 16)
    }

    /// The examples at `indices`, in that order.
    public func subset(_ indices: [Int]) -> Dataset {
        let size = shape.count
        var images = [Float](); images.reserveCapacity(indices.count * size)
        var labels = [Int32](); labels.reserveCapacity(indices.count)
        for index in indices {
            images.append(contentsOf: self.images[index * size ..< (index + 1) * size])
            labels.append(self.labels[index])
        }
        var result = Dataset(name: name, shape: shape, classNames: classNames, images: images, labels: labels)
        result.normalization = normalization
        return result
    }

    /// A seeded split into (train, validation): `validation` examples, or that fraction when < 1.
    public func split(validation: Double, seed: UInt64) -> (train: Dataset, validation: Dataset) {
        let held = validation < 1 ? Int((validation * Double(count)).rounded()) : Int(validation)
        let heldOut = min(max(held, 1), count - 1)
        var random = RandomSource(seed: seed, stream: "split")
        var order = Array(0 ..< count)
        order.shuffle(using: &random)
        return (subset(Array(order[heldOut...]).sorted()), subset(Array(order[..<heldOut]).sorted()))
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
    /// This dataset normalised by `normalization` (recorded in the result).
    public func normalized(by normalization: Normalization) -> Dataset {
        var copy = self
        normalization.apply(to: &copy)
        copy.normalization = normalization
        return copy
    }
}

import Datasets
import Foundation
import Tensor
import Testing

@Suite("Datasets in their own bytes")
struct StorageTests {
    /// 7 examples of 2×3×3 bytes, every byte value from 0 to 255 somewhere, and the same pixels
    /// as the floats byte / 255 that runner held before.
    static let shape: Shape = [2, 3, 3]
    static let bytes: [UInt8] = (0 ..< 7 * 18).map { UInt8(($0 * 37 + 11) % 256) } + []
    static let labels: [Int32] = (0 ..< 7).map { Int32($0 % 3) }
    static var asBytes: Dataset { Dataset(name: "b", shape: shape, classNames: ["a", "b", "c"], bytes: bytes, labels: labels) }
    static var asFloats: Dataset { Dataset(name: "b", shape: shape, classNames: ["a", "b", "c"], images: bytes.map { Float($0) / 255 }, labels: labels) }

    @Test("bytes read as byte / 255, normalised per channel as they are read: bit for bit the floats normalised in place")
    func sameFloats() {
        let normalization = Normalization(mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26])
        #expect(Self.asBytes.images == Self.asFloats.images)
        // What Normalization.apply did to a float dataset in place, written out here.
        let scale = normalization.std.map { 1 / $0 }
        let expected = Self.asFloats.images.enumerated().map { i, x in (x - normalization.mean[i % 3]) * scale[i % 3] }
        let normalized = Self.asBytes.normalized(by: normalization)
        #expect(normalized.images == expected)
        #expect(Self.asFloats.normalized(by: normalization).images == expected)
        // A batch filled in a shuffled order, the subset, the statistics and the fingerprint agree.
        let order = [6, 2, 0, 5], target = FloatBuffer.allocate(capacity: 4 * 18), labels = UnsafeMutableBufferPointer<Int32>.allocate(capacity: 4)
        defer { target.deallocate(); labels.deallocate() }
        normalized.fill(order: order, start: 0, count: 4, images: target, labels: labels)
        #expect(Array(target) == order.flatMap { expected[$0 * 18 ..< ($0 + 1) * 18] })
        #expect(Array(labels) == order.map { Self.labels[$0] })
        #expect(normalized.subset([3, 1]).images == Array(expected[54 ..< 72] + expected[18 ..< 36]))
        #expect(Normalization.statistics(of: Self.asBytes) == Normalization.statistics(of: Self.asFloats))
        #expect(Self.asBytes.fingerprint == Self.asFloats.fingerprint)
        #expect(normalized.fingerprint != Self.asBytes.fingerprint)
    }

    @Test("a subset and a split keep the bytes (a quarter of the floats' memory)")
    func subsetKeepsBytes() {
        let (train, validation) = Self.asBytes.split(validation: 2, seed: 1)
        for part in [train, validation] {
            guard case .bytes(let bytes) = part.pixels else {
                Issue.record("the split holds floats")
                continue
            }
            #expect(bytes.count == part.count * 18)
        }
        #expect(train.count == 5 && validation.count == 2)
    }
}

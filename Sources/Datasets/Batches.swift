import Tensor

/// The order of examples in an epoch: a permutation drawn from (seed, epoch) alone, so that a
/// resumed run can recreate any epoch's order without replaying the ones before.
public func epochOrder(count: Int, seed: UInt64, epoch: Int, shuffle: Bool) -> [Int] {
    var order = Array(0 ..< count)
    guard shuffle else { return order }
    var random = RandomSource(seed: seed &+ UInt64(epoch) &* 0x9E37_79B9, stream: "shuffle")
    order.shuffle(using: &random)
    return order
}

extension Dataset {
    /// Copies the examples `order[start ..< start + count]` into `images` (NHWC) and `labels`.
    public func fill(order: [Int], start: Int, count: Int, images target: FloatBuffer, labels: UnsafeMutableBufferPointer<Int32>) {
        let size = shape.count
        for i in 0 ..< count {
            let index = order[start + i]
            copyExamples(index, count: 1, into: target.baseAddress! + i * size)
            labels[i] = self.labels[index]
        }
    }
}

import Dispatch
import Tensor

/// Prepares the next training batch on another thread while the current one trains: copies
/// the examples of the epoch's order into one of two buffers (allocated once) and augments them
/// there. `take` hands a prepared batch over; the caller copies it into the plan's input.
public final class BatchPrefetcher: @unchecked Sendable {
    let data: Dataset
    let capacity: Int
    let augmentation: Augmentation
    let seed: UInt64
    let queue = DispatchQueue(label: "runner.prefetch", qos: .userInitiated)
    let images: [UnsafeMutablePointer<Float>]
    let labels: [UnsafeMutablePointer<Int32>]
    let scratch: UnsafeMutablePointer<Float>
    let ready = [DispatchSemaphore(value: 0), DispatchSemaphore(value: 0)]
    /// Examples in each slot's batch.
    private var counts = [0, 0]

    public init(data: Dataset, capacity: Int, augmentation: Augmentation, seed: UInt64) {
        self.data = data; self.capacity = capacity; self.augmentation = augmentation; self.seed = seed
        let size = data.shape.count
        images = (0 ..< 2).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: max(capacity * size, 1)) }
        labels = (0 ..< 2).map { _ in UnsafeMutablePointer<Int32>.allocate(capacity: max(capacity, 1)) }
        scratch = .allocate(capacity: max(size, 1))
    }

    deinit {
        queue.sync {}  // nothing may still be writing
        images.forEach { $0.deallocate() }; labels.forEach { $0.deallocate() }; scratch.deallocate()
    }

    /// Starts preparing `order[start ..< start + count]` of `epoch` into `slot` (0 or 1).
    public func request(slot: Int, order: [Int], start: Int, count: Int, epoch: Int) {
        queue.async { [self] in
            let size = data.shape.count
            data.images.withUnsafeBufferPointer { source in
                for i in 0 ..< count {
                    let index = order[start + i]
                    (images[slot] + i * size).update(from: source.baseAddress! + index * size, count: size)
                    labels[slot][i] = data.labels[index]
                }
            }
            augmentation.apply(images[slot], count: count, shape: data.shape, seed: seed, epoch: epoch, firstPosition: start, scratch: scratch)
            counts[slot] = count
            ready[slot].signal()
        }
    }

    /// Waits for `slot`'s batch and copies it into `images` and `labels`; returns its size.
    public func take(slot: Int, images target: FloatBuffer, labels targetLabels: UnsafeMutableBufferPointer<Int32>) -> Int {
        ready[slot].wait()
        let count = counts[slot]
        target.baseAddress!.update(from: images[slot], count: count * data.shape.count)
        targetLabels.baseAddress!.update(from: labels[slot], count: count)
        return count
    }

    /// Waits until no request is in flight (before the trainer stops mid-epoch).
    public func drain() { queue.sync {} }
}

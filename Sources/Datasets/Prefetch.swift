import Foundation
import Tensor

/// Prepares the next training batch on another thread while the current one trains: copies
/// the examples of the epoch's order into one of two buffers (allocated once) and augments them
/// there. `take` hands a prepared batch over; the caller copies it into the plan's input.
///
/// The helper is one pthread whose creation is checked: where no thread can be started (a pids
/// limit, RLIMIT_NPROC), batches are prepared on the caller's thread instead, and `startFailure`
/// says so. (It was a Dispatch queue, and libdispatch waits forever for a worker thread it
/// cannot create.)
public final class BatchPrefetcher: @unchecked Sendable {
    let data: Dataset
    let capacity: Int
    let augmentation: Augmentation
    let seed: UInt64
    let images: [UnsafeMutablePointer<Float>]
    let labels: [UnsafeMutablePointer<Int32>]
    let scratch: UnsafeMutablePointer<Float>
    /// Examples in each slot's batch.
    private var counts = [0, 0]

    /// One job at a time, handed over under `condition`: the helper prepares it, marks its slot
    /// ready and waits for the next. `ready[slot]` is true once a slot's batch is prepared.
    private struct Job { var slot: Int; var order: [Int]; var start: Int; var count: Int; var epoch: Int }
    private let condition = NSCondition()
    private var pending: Job?
    private var busy = false
    private var ready = [false, false]
    private var stopping = false
    private var thread: pthread_t?
    /// Why batches are prepared on the caller's thread (pthread_create's error), or nil.
    public private(set) var startFailure: String?

    public init(data: Dataset, capacity: Int, augmentation: Augmentation, seed: UInt64) {
        self.data = data; self.capacity = capacity; self.augmentation = augmentation; self.seed = seed
        let size = data.shape.count
        images = (0 ..< 2).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: max(capacity * size, 1)) }
        labels = (0 ..< 2).map { _ in UnsafeMutablePointer<Int32>.allocate(capacity: max(capacity, 1)) }
        scratch = .allocate(capacity: max(size, 1))
        var handle = pthread_t()
        let status = pthread_create(
            &handle, nil,
            { argument in
                Unmanaged<BatchPrefetcher>.fromOpaque(argument!).takeUnretainedValue().serve()
                return nil
            }, Unmanaged.passUnretained(self).toOpaque())
        if status == 0 {
            thread = handle
        } else {
            startFailure =
                "the batch-preparing thread could not be started (pthread_create: \(String(cString: strerror(status)))); batches are prepared between steps"
        }
    }

    deinit {
        if let thread {
            condition.lock(); stopping = true; condition.broadcast(); condition.unlock()
            pthread_join(thread, nil)  // nothing may still be writing
        }
        images.forEach { $0.deallocate() }; labels.forEach { $0.deallocate() }; scratch.deallocate()
    }

    /// The helper thread: prepares each job handed over until told to stop.
    private func serve() {
        condition.lock()
        while true {
            while pending == nil && !stopping { condition.wait() }
            guard let job = pending else { break }
            pending = nil
            busy = true
            condition.unlock()
            prepare(job)
            condition.lock()
            busy = false
            ready[job.slot] = true
            condition.broadcast()
        }
        condition.unlock()
    }

    private func prepare(_ job: Job) {
        let size = data.shape.count
        for i in 0 ..< job.count {  // decoded and normalised here, on the helper thread
            let index = job.order[job.start + i]
            data.copyExamples(index, count: 1, into: images[job.slot] + i * size)
            labels[job.slot][i] = data.labels[index]
        }
        augmentation.apply(
            images[job.slot], count: job.count, shape: data.shape, seed: seed, epoch: job.epoch, order: job.order, firstPosition: job.start, scratch: scratch)
        counts[job.slot] = job.count
    }

    /// Starts preparing `order[start ..< start + count]` of `epoch` into `slot` (0 or 1).
    public func request(slot: Int, order: [Int], start: Int, count: Int, epoch: Int) {
        let job = Job(slot: slot, order: order, start: start, count: count, epoch: epoch)
        guard thread != nil else {
            prepare(job)
            ready[slot] = true
            return
        }
        condition.lock()
        while pending != nil || busy { condition.wait() }  // the trainer keeps at most one in flight
        ready[slot] = false
        pending = job
        condition.broadcast()
        condition.unlock()
    }

    /// Waits for `slot`'s batch and copies it into `images` and `labels`; returns its size.
    public func take(slot: Int, images target: FloatBuffer, labels targetLabels: UnsafeMutableBufferPointer<Int32>) -> Int {
        condition.lock()
        while !ready[slot] { condition.wait() }
        ready[slot] = false
        condition.unlock()
        let count = counts[slot]
        target.baseAddress!.update(from: images[slot], count: count * data.shape.count)
        targetLabels.baseAddress!.update(from: labels[slot], count: count)
        return count
    }

    /// Waits until no request is in flight (before the trainer stops mid-epoch).
    public func drain() {
        condition.lock()
        while pending != nil || busy { condition.wait() }
        condition.unlock()
    }
}

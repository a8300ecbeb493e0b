import CKernels
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The number format of matrix products.
public enum Precision: String, Sendable, CaseIterable {
    /// float32 products and sums.
    case fp32
    /// bfloat16 products (inputs rounded to nearest even when packed) with float32 sums, through
    /// runner's own AVX512-BF16 GEMM (about 1.2× the fp32 path end to end on the seed model). Parameters,
    /// gradients, optimizer state and everything outside the GEMMs stay float32 ("mixed precision").
    case bf16

    /// The precision `setting` runs in at `level`.
    public static func resolve(_ setting: PrecisionSetting, level: CPULevel = CPU.level) -> Precision {
        switch setting {
        case .auto: level >= .avx512bf16 ? .bf16 : .fp32
        case .fp32: .fp32
        case .bf16: .bf16
        }
    }

    /// Whether this precision can run at `level` (default: this machine's).
    public func isAvailable(at level: CPULevel = CPU.level) -> Bool { self == .fp32 || level >= .avx512bf16 }
    public var isAvailable: Bool { isAvailable() }
}

/// Work that every worker of a pool runs at once: a struct holding what one parallel loop reads
/// and writes (pointers, sizes, the layer and its buffers), whose `run(worker:of:)` does one
/// worker's part. A struct rather than a closure because handing a closure to another thread
/// costs a heap allocation per call (Swift boxes it to check that it did not escape), and a
/// training step must allocate nothing; a struct is passed by its address on the caller's stack.
public protocol ParallelWork {
    /// Worker `worker`'s part of the work, `workers` running at once (the caller is worker 0).
    func run(worker: Int, of workers: Int)
}

/// Work over 0 ..< total split into one contiguous share per worker (`WorkerPool.share`).
public protocol ParallelShares: ParallelWork {
    /// The number of items shared out (examples of the batch, elements, units).
    var total: Int { get }
    /// The items `share` (never empty) of worker `worker`.
    func run(worker: Int, share: Range<Int>)
}

extension ParallelShares {
    public func run(worker: Int, of workers: Int) {
        let share = WorkerPool.share(of: worker, workers: workers, total: total)
        if !share.isEmpty { run(worker: worker, share: share) }
    }
}

extension ParallelWork {
    /// Runs the work stored at `address` (a `Self` on `WorkerPool.run`'s stack).
    fileprivate static func run(at address: UnsafeRawPointer, worker: Int, of workers: Int) {
        address.assumingMemoryBound(to: Self.self).pointee.run(worker: worker, of: workers)
    }
}

/// The spec's `train.precision` (and `--precision`): a precision, or `auto`, which is bf16 where
/// the CPU level has AVX512-BF16, else fp32 (`Precision.resolve`).
public enum PrecisionSetting: String, Sendable, CaseIterable {
    case auto, fp32, bf16
}

/// Threads that run one piece of work on every worker, the caller being worker 0. Made once (a
/// plan owns one); `run` with a `ParallelWork` allocates nothing, so training steps stay
/// allocation-free.
public final class WorkerPool: @unchecked Sendable {
    /// Workers including the calling thread: those asked for, or fewer when the system refused
    /// to start a thread (`startFailure` says why). Settled before the pool is first used.
    public private(set) var count = 1
    /// Why the pool has fewer workers than asked for (pthread_create's error), or nil.
    public private(set) var startFailure: String?
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let finished = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var threads: [pthread_t] = []
    // Guarded by `mutex`.
    private var generation = 0
    private var pending = 0
    private var stopping = false
    /// The running work: its address on `run`'s caller's stack and its type, valid until every
    /// worker has reported back.
    private var job: (address: UnsafeRawPointer, type: any ParallelWork.Type)?

    /// pthread_create's shape without attributes: (thread, body, argument) → 0 or an errno.
    public typealias ThreadStarter = (
        UnsafeMutablePointer<pthread_t>, @convention(c) (UnsafeMutableRawPointer?) -> UnsafeMutableRawPointer?,
        UnsafeMutableRawPointer
    ) -> Int32

    /// Starts `count − 1` threads. When the system refuses one (a process or pids limit), the
    /// pool runs on the threads that did start and says why in `startFailure`, instead of
    /// waiting for a worker that does not exist. `start` is pthread_create, replaceable in tests.
    public init(count: Int, start: ThreadStarter? = nil) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(finished, nil)
        let starter = start ?? { thread, body, argument in pthread_create(thread, nil, body, argument) }
        var started = 1
        for worker in 1 ..< max(1, count) {
            let box = Unmanaged.passRetained(WorkerStart(pool: self, worker: worker)).toOpaque()
            var thread = pthread_t()
            let status = starter(
                &thread,
                { argument in
                    let start = Unmanaged<WorkerStart>.fromOpaque(argument!).takeRetainedValue()
                    start.pool.loop(worker: start.worker)
                    return nil
                }, box)
            guard status == 0 else {
                Unmanaged<WorkerStart>.fromOpaque(box).release()
                startFailure =
                    "only \(started) of \(count) worker threads could be started (pthread_create: \(String(cString: strerror(status)))); running \(started)"
                break
            }
            threads.append(thread)
            started += 1
        }
        self.count = started
    }

    deinit {
        pthread_mutex_lock(mutex)
        stopping = true
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)
        for thread in threads { pthread_join(thread, nil) }
        pthread_cond_destroy(wake); pthread_cond_destroy(finished); pthread_mutex_destroy(mutex)
        wake.deallocate(); finished.deallocate(); mutex.deallocate()
    }

    /// Runs `work` on worker = 0 ..< count at once and returns when all have finished.
    /// Allocates nothing.
    public func run<Work: ParallelWork>(_ work: Work) {
        if count == 1 { work.run(worker: 0, of: 1); return }
        withUnsafePointer(to: work) { address in
            pthread_mutex_lock(mutex)
            job = (UnsafeRawPointer(address), Work.self)
            pending = count - 1
            generation &+= 1
            pthread_cond_broadcast(wake)
            pthread_mutex_unlock(mutex)
            work.run(worker: 0, of: count)
            pthread_mutex_lock(mutex)
            while pending > 0 { pthread_cond_wait(finished, mutex) }
            job = nil
            pthread_mutex_unlock(mutex)
        }
    }

    /// Runs `body(worker)` for worker = 0 ..< count at once: for code outside a training step
    /// (benchmarks, tests). It allocates once per call, for the closure's trip to the workers.
    public func run(_ body: (Int) -> Void) {
        if count == 1 { body(0); return }
        withoutActuallyEscaping(body) { body in run(ClosureWork(body: body)) }
    }

    /// Splits 0 ..< total into `count` contiguous ranges, one per worker, and runs
    /// `body(worker, range)` on each non-empty one (allocating, as `run(_ body:)`).
    public func split(_ total: Int, _ body: (Int, Range<Int>) -> Void) {
        run { worker in
            let range = WorkerPool.share(of: worker, workers: count, total: total)
            if !range.isEmpty { body(worker, range) }
        }
    }

    /// Worker `worker`'s contiguous share of 0 ..< total.
    @inlinable
    public static func share(of worker: Int, workers: Int, total: Int) -> Range<Int> {
        (total * worker / workers) ..< (total * (worker + 1) / workers)
    }

    /// Runs the current job's part of `worker`. A function of its own, so that anything the
    /// worker copied out of the job is released before it reports back (`run(_ body:)`'s
    /// withoutActuallyEscaping checks that no reference to its closure outlives it). `job` is
    /// set before the generation this worker saw, under the mutex, and is not changed until
    /// every worker has reported.
    @inline(never)
    private func runJob(_ worker: Int) {
        let (address, type) = job!
        type.run(at: address, worker: worker, of: count)
    }

    private func loop(worker: Int) {
        var seen = 0
        pthread_mutex_lock(mutex)
        while true {
            while generation == seen && !stopping { pthread_cond_wait(wake, mutex) }
            if stopping { break }
            seen = generation
            pthread_mutex_unlock(mutex)
            runJob(worker)
            pthread_mutex_lock(mutex)
            pending -= 1
            if pending == 0 { pthread_cond_signal(finished) }
        }
        pthread_mutex_unlock(mutex)
    }
}

extension WorkerPool {
    /// The default thread count, the one rule every command uses: every core, shared between
    /// `jobs` runs at once.
    public static func defaultCount(jobs: Int = 1, cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> Int {
        max(1, cores / max(1, jobs))
    }

    /// The workers a request for `requested` threads gets: at most one per core (more only
    /// time-share the cores, and thousands exhaust the process's threads), at least one; with
    /// a note when it was lowered.
    public static func workers(requested: Int, cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> (count: Int, note: String?) {
        let cores = max(1, cores)
        guard requested > cores else { return (max(1, requested), nil) }
        return (cores, "\(requested) threads asked for, but this machine has \(cores) cores; running \(cores)")
    }
}

/// A closure as work (`WorkerPool.run(_ body:)`).
private struct ClosureWork: ParallelWork {
    let body: (Int) -> Void
    func run(worker: Int, of workers: Int) { body(worker) }
}

private final class WorkerStart {
    let pool: WorkerPool
    let worker: Int
    init(pool: WorkerPool, worker: Int) { self.pool = pool; self.worker = worker }
}

/// How a plan computes: its worker threads, the precision of its matrix products and the CPU
/// level of its kernels. Each worker has its own GEMM workspace, so workers multiply at the
/// same time without sharing.
public final class ComputeEngine: @unchecked Sendable {
    public let pool: WorkerPool
    public let precision: Precision
    public let level: CPULevel
    public var workers: Int { pool.count }
    private let workspaces: UnsafeMutableRawPointer
    private let workspaceBytes: Int

    /// `precision` should be available at `level` (`Precision.isAvailable(at:)`, which specs and
    /// flags are checked against first); bf16 where it is not runs in fp32. `level` may not
    /// exceed `CPU.detected` and is clamped to it.
    public init(workers: Int, precision: Precision = .fp32, level: CPULevel = CPU.level) {
        pool = WorkerPool(count: workers)
        self.level = min(level, CPU.detected)
        self.precision = precision.isAvailable(at: self.level) ? precision : .fp32
        // Each worker's GEMM is single-threaded; parallelism comes from the pool.
        // bf16 engines also run small products in fp32, so their workspace fits both GEMMs.
        let bytes = self.precision == .bf16 ? max(runner_bf16_workspace_bytes(), runner_sgemm_workspace_bytes()) : runner_sgemm_workspace_bytes()
        workspaceBytes = (bytes + 63) & ~63
        workspaces = UnsafeMutableRawPointer.allocate(byteCount: workspaceBytes * pool.count, alignment: 64)
    }

    deinit { workspaces.deallocate() }

    /// One single-threaded GEMM on behalf of `worker`: C[m×n] = op(A)·op(B) + beta·C, row-major,
    /// in the engine's precision with the kernels of its CPU level. Products too small to gain
    /// from bf16 run in fp32.
    @inlinable
    public func gemm(
        worker: Int, transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
        _ a: UnsafePointer<Float>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
        beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        if precision == .bf16 && n >= 16 && k >= 16 {
            runner_sgemm_bf16(transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, a, lda, b, ldb, beta, c, ldc, workspace(worker))
        } else {
            runner_sgemm(Int32(level.rawValue), transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, a, lda, b, ldb, beta, c, ldc, workspace(worker))
        }
    }

    /// Whether a product of this n and k runs in bf16 (else sgemm): `gemm`'s own rule, for
    /// callers that could hand it bf16 operands.
    @inlinable
    public func runsInBF16(n: Int, k: Int) -> Bool { precision == .bf16 && n >= 16 && k >= 16 }

    /// `gemm` with A already in bfloat16 (from `im2colBF16`); only where `runsInBF16(n:k:)`.
    @inlinable
    public func gemm(
        worker: Int, transposeA: Bool = false, transposeB: Bool = false, m: Int, n: Int, k: Int,
        bf16 a: UnsafePointer<UInt16>, lda: Int, _ b: UnsafePointer<Float>, ldb: Int,
        beta: Float, _ c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        guard m > 0, n > 0 else { return }
        runner_sgemm_bf16_a16(transposeA ? 1 : 0, transposeB ? 1 : 0, m, n, k, a, lda, b, ldb, beta, c, ldc, workspace(worker))
    }

    @usableFromInline
    func workspace(_ worker: Int) -> UnsafeMutableRawPointer { workspaces + worker * workspaceBytes }

    /// Columns `worker` owns when a product's n columns are split between workers: multiples of
    /// 32 (the bf16 micro-tile's width) so no tile straddles two workers.
    @inlinable
    public func columnShare(of worker: Int, columns: Int) -> Range<Int> {
        let tiles = (columns + 31) / 32
        let share = WorkerPool.share(of: worker, workers: workers, total: tiles)
        return min(share.lowerBound * 32, columns) ..< min(share.upperBound * 32, columns)
    }
}

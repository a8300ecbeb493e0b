import Tensor

/// The processes ("ranks") that train one run together, data-parallel, and the few collective
/// operations the trainer needs from them. Every rank holds the whole model and takes its
/// contiguous share of every batch; after backward, one sum of the flat gradient arena makes
/// every rank's gradient the batch's (the model of Horovod and PyTorch DDP). Rank 0 writes the
/// run's files. `SingleProcess` is the one-rank case, where every operation is nothing; the MPI
/// implementation lives in the Ranks module, so the trainer knows nothing of MPI.
///
/// Every rank must call the operations in the same order (they are collective). A failure of
/// the transport ends every rank of the job (there is no partial result to continue from).
public protocol Collective: AnyObject {
    var rank: Int { get }
    var size: Int { get }
    /// Elementwise sum over every rank, in place.
    func sum(_ values: UnsafeMutablePointer<Float>, count: Int)
    func sum(_ values: inout [Double])
    /// The largest of every rank's value.
    func maximum(_ value: Int32) -> Int32
    /// Rank 0's values, copied to every rank.
    func broadcast(_ values: UnsafeMutablePointer<Float>, count: Int)
    func broadcast(_ values: inout [Int32])
    /// Returns once every rank has called it.
    func barrier()
}

extension Collective {
    /// Rank 0 writes the run's files (checkpoints, summary, event files, console).
    public var isRoot: Bool { rank == 0 }

    /// This rank's part of a batch of `count` examples: contiguous, sizes differing by at most
    /// one (rank r takes [r·count/size, (r+1)·count/size)); empty when count < size.
    public func share(of count: Int) -> Range<Int> {
        (rank * count / size) ..< ((rank + 1) * count / size)
    }

    /// True on every rank when it is true on any: decisions every rank must take together.
    public func any(_ flag: Bool) -> Bool {
        size == 1 ? flag : maximum(flag ? 1 : 0) != 0
    }

    /// The same buffer on every rank: rank 0's.
    public func broadcast(_ buffer: FloatBuffer) {
        if size > 1, let base = buffer.baseAddress { broadcast(base, count: buffer.count) }
    }
}

/// One process: every collective operation is the identity.
public final class SingleProcess: Collective {
    public init() {}
    public var rank: Int { 0 }
    public var size: Int { 1 }
    public func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {}
    public func sum(_ values: inout [Double]) {}
    public func maximum(_ value: Int32) -> Int32 { value }
    public func broadcast(_ values: UnsafeMutablePointer<Float>, count: Int) {}
    public func broadcast(_ values: inout [Int32]) {}
    public func barrier() {}
}

import Foundation
import Train

#if canImport(CMPIBridge)
    import CMPIBridge
#endif

/// Data-parallel training over MPI: `mpirun -np R runner CONFIG`. Linked against Open MPI
/// (Debian's libopenmpi-dev, through the COpenMPI system-library target) when the build found
/// it; a build without it trains on one process and says how to get MPI when mpirun starts it.
public enum Ranks {
    /// Whether an MPI launcher (mpirun, mpiexec, srun) started this process: its rank variables
    /// are set. Outside a launcher runner never initialises MPI.
    public static var launched: Bool {
        let environment = ProcessInfo.processInfo.environment
        return ["OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"].contains { environment[$0] != nil }
    }

    /// The ranks the launcher put on this machine (they share its cores), when it says.
    public static var onThisNode: Int? {
        ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
    }

    public static var available: Bool {
        #if canImport(CMPIBridge)
            true
        #else
            false
        #endif
    }

    /// Joins the job mpirun started: this process's rank and the job's size, and the MPI
    /// library's name. Throws (with what to do) when runner was built without MPI.
    public static func start() throws -> (collective: any Collective, library: String) {
        #if canImport(CMPIBridge)
            var rank: Int32 = 0, size: Int32 = 0
            var version = [CChar](repeating: 0, count: 256)
            let status = runner_mpi_start(&rank, &size, &version, Int32(version.count))
            guard status == 0 else { throw RanksError("MPI_Init_thread failed: \(MPICollective.text(status))") }
            return (MPICollective(rank: Int(rank), size: Int(size)), string(version))
        #else
            throw RanksError(
                "this runner was built without MPI, but an MPI launcher started it",
                hint: "install Open MPI (scripts/setup.sh installs openmpi-bin and libopenmpi-dev), then rebuild: swift build -c release")
        #endif
    }

    /// Leaves the job (MPI_Finalize), once every rank is done.
    public static func finish() {
        #if canImport(CMPIBridge)
            _ = runner_mpi_finish()
        #endif
    }
}

/// The text of a NUL-terminated C buffer.
func string(_ characters: [CChar]) -> String {
    String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

public struct RanksError: Error, CustomStringConvertible {
    public var message: String
    public var hint: String
    init(_ message: String, hint: String = "check the MPI installation: mpirun --version") { self.message = message; self.hint = hint }
    public var description: String { "error: \(message)\nhint: \(hint)" }
}

#if canImport(CMPIBridge)
    /// The collective operations over MPI_COMM_WORLD. A failed call ends every rank
    /// (MPI_Abort): ranks that disagree on what happened cannot go on, and rank 0's files are
    /// only ever replaced whole, so the last checkpoint is intact.
    final class MPICollective: Collective {
        let rank: Int, size: Int
        init(rank: Int, size: Int) { self.rank = rank; self.size = size }

        static func text(_ status: Int32) -> String {
            var text = [CChar](repeating: 0, count: 512)
            runner_mpi_error_text(status, &text, Int32(text.count))
            return string(text)
        }

        func check(_ status: Int32, _ call: String) {
            guard status != 0 else { return }
            FileHandle.standardError.write(
                Data("runner rank \(rank): error: \(call) failed: \(Self.text(status)); every rank stops (the last checkpoint is intact)\n".utf8))
            runner_mpi_abort(1)
        }

        func sum(_ values: UnsafeMutablePointer<Float>, count: Int) { check(runner_mpi_sum_floats(values, count), "MPI_Allreduce") }
        func sum(_ values: inout [Double]) {
            let count = Int32(values.count)
            check(values.withUnsafeMutableBufferPointer { runner_mpi_sum_doubles($0.baseAddress, count) }, "MPI_Allreduce")
        }
        func maximum(_ value: Int32) -> Int32 {
            var value = value
            check(runner_mpi_max_int(&value), "MPI_Allreduce")
            return value
        }
        func broadcast(_ values: UnsafeMutablePointer<Float>, count: Int) { check(runner_mpi_broadcast_floats(values, count), "MPI_Bcast") }
        func broadcast(_ values: inout [Int32]) {
            let count = Int32(values.count)
            check(values.withUnsafeMutableBufferPointer { runner_mpi_broadcast_ints($0.baseAddress, count) }, "MPI_Bcast")
        }
        func barrier() { check(runner_mpi_barrier(), "MPI_Barrier") }
    }
#endif

import Foundation
import Testing
import Train

/// Open MPI's launcher, which scripts/setup.sh installs (openmpi-bin).
let mpirunBinary = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// `mpirun -np ranks runner …`: one rank per slot whatever the machine's core count says
/// (--oversubscribe), as root where the tests run as root (CI does).
func mpirunArguments(ranks: Int, _ arguments: [String]) -> [String] {
    ["--oversubscribe", "--allow-run-as-root", "--bind-to", "none", "-np", String(ranks), runnerBinary.path] + arguments
}

func mpirun(ranks: Int, _ arguments: [String]) throws -> Outcome {
    let scratch = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: scratch) }
    let log = scratch.appendingPathComponent("mpirun.log")
    let process = try launch(mpirunArguments(ranks: ranks, arguments), log: log, executable: URL(fileURLWithPath: mpirunBinary!))
    process.waitUntilExit()
    return Outcome(status: process.terminationStatus, output: (try? String(contentsOf: log, encoding: .utf8)) ?? "", error: "")
}

/// The processes whose parent is `pid` (from /proc).
func children(of pid: Int32) -> [Int32] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { Int32($0) }.filter { child in
        guard let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 2 && Int32(fields[1]) == pid
    }
}

@Suite("Data-parallel training over MPI", .serialized, .enabled(if: mpirunBinary != nil, "needs Open MPI: scripts/setup.sh installs it"))
struct MPITests {
    /// One thread per rank: two ranks share this machine's cores.
    let digits = ["configs/digits.yaml", "--threads", "1", "--set", "tensorboard.enabled=false"]

    @Test("2 ranks × 1 thread reach one process's validation accuracy within noise, say so, and give the same metrics twice")
    func twoRanks() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let one = try runner([
            "configs/digits.yaml", "--threads", "2", "--set", "tensorboard.enabled=false", "--runs", scratch.appendingPathComponent("one").path,
        ])
        #expect(one.status == 0, "\(one.error)")
        let first = try mpirun(ranks: 2, digits + ["--runs", scratch.appendingPathComponent("first").path])
        #expect(first.status == 0, "\(first.output)")
        #expect(first.output.contains("2 MPI ranks × 1 threads"))
        // Rank 0 alone speaks: one announcement, one final line.
        #expect(first.output.components(separatedBy: "Training digits/default").count == 2, "\(first.output)")
        let second = try mpirun(ranks: 2, digits + ["--runs", scratch.appendingPathComponent("second").path])
        #expect(second.status == 0, "\(second.output)")
        let single = try summary(scratch.appendingPathComponent("one/digits/default"))
        let a = try summary(scratch.appendingPathComponent("first/digits/default"))
        let b = try summary(scratch.appendingPathComponent("second/digits/default"))
        #expect(a.ranks == 2 && a.threads == 1 && single.ranks == nil)
        #expect(withoutTimings(a.history) == withoutTimings(b.history), "two 2-rank runs differ")
        // Validation is 359 images: 2 points is 7 of them, about what one seed moves it.
        let difference = abs(a.final!.validationAccuracy - single.final!.validationAccuracy)
        #expect(difference <= 0.02, "2 ranks \(a.final!.validationAccuracy) vs 1 rank \(single.final!.validationAccuracy)")
        #expect(a.final!.validationAccuracy >= 0.96)
        // The same global batches: every epoch's step count and example count are one process's.
        #expect(a.history.count == single.history.count)
        // A sweep already completed is skipped by every rank together.
        let again = try mpirun(ranks: 2, digits + ["--runs", scratch.appendingPathComponent("first").path])
        #expect(again.status == 0 && again.output.contains("already completed"), "\(again.output)")
    }

    @Test("kill -9 of the whole job at random moments, resumed by mpirun each time: the same metrics, bit for bit, as an uninterrupted 2-rank run")
    func killNine() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let long = digits + ["--set", "train.epochs=40"]
        let reference = try mpirun(ranks: 2, long + ["--runs", scratch.appendingPathComponent("reference").path])
        #expect(reference.status == 0, "\(reference.output)")
        let runs = scratch.appendingPathComponent("killed"), run = runs.appendingPathComponent("digits/default")
        var random = SystemRandomNumberGenerator()
        var killedMidRun = 0
        for _ in 0 ..< 6 {
            let process = try launch(
                mpirunArguments(ranks: 2, long + ["--runs", runs.path]), log: scratch.appendingPathComponent("log.txt"),
                executable: URL(fileURLWithPath: mpirunBinary!))
            usleep(UInt32.random(in: 700_000 ... 2_500_000, using: &random))
            if process.isRunning {
                for rank in children(of: process.processIdentifier) { kill(rank, SIGKILL) }
                kill(process.processIdentifier, SIGKILL)
                killedMidRun += 1
            }
            process.waitUntilExit()
            _ = try checkpointsAreWhole(run)
        }
        let last = try mpirun(ranks: 2, long + ["--runs", runs.path])
        #expect(last.status == 0, "\(last.output)")
        #expect(killedMidRun >= 3, "too few kills landed mid-run to mean anything: \(killedMidRun)")
        let resumed = try summary(run)
        #expect(resumed.status == .completed)
        #expect(withoutTimings(resumed.history) == withoutTimings(try summary(scratch.appendingPathComponent("reference/digits/default")).history))
    }

    @Test("SIGTERM to rank 1 only: every rank stops at the same step, rank 0 checkpoints, and the resumed run matches an uninterrupted one")
    func sigterm() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let long = digits + ["--set", "train.epochs=40", "--set", "checkpoint.every_epochs=100"]
        let reference = try mpirun(ranks: 2, long + ["--runs", scratch.appendingPathComponent("reference").path])
        #expect(reference.status == 0, "\(reference.output)")
        let runs = scratch.appendingPathComponent("stopped"), run = runs.appendingPathComponent("digits/default")
        let process = try launch(
            mpirunArguments(ranks: 2, long + ["--runs", runs.path]), log: scratch.appendingPathComponent("log.txt"),
            executable: URL(fileURLWithPath: mpirunBinary!))
        usleep(1_500_000)
        try #require(process.isRunning, "the run ended before the signal")
        // The signal reaches rank 1 alone (a Slurm or a user may signal any one process): rank 0
        // must stop at the same step, or the two would wait on each other forever.
        let rankOne = children(of: process.processIdentifier).first { pid in
            let environment = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))) ?? Data()
            return String(decoding: environment, as: UTF8.self).split(separator: "\0").contains("OMPI_COMM_WORLD_RANK=1")
        }
        try #require(rankOne != nil, "no rank 1 among mpirun's children")
        kill(rankOne!, SIGTERM)
        process.waitUntilExit()
        let stopped = try summary(run)
        #expect(stopped.status == .interrupted, "\(stopped.status) \(stopped.error ?? "")")
        #expect(try checkpointsAreWhole(run) >= 1)
        #expect(stopped.error?.contains("stopped by SIGTERM") == true)
        let last = try mpirun(ranks: 2, long + ["--runs", runs.path])
        #expect(last.status == 0, "\(last.output)")
        #expect(withoutTimings(try summary(run).history) == withoutTimings(try summary(scratch.appendingPathComponent("reference/digits/default")).history))
    }
}

@Test("a batch's shares over ranks: contiguous, in order, sizes within one, empty only when the batch is smaller than the ranks")
func batchShares() {
    final class Rank: Collective {
        let rank: Int, size: Int
        init(_ rank: Int, of size: Int) { self.rank = rank; self.size = size }
        func sum(_ values: UnsafeMutablePointer<Float>, count: Int) {}
        func sum(_ values: inout [Double]) {}
        func maximum(_ value: Int32) -> Int32 { value }
        func broadcast(_ values: UnsafeMutablePointer<Float>, count: Int) {}
        func broadcast(_ values: inout [Int32]) {}
        func barrier() {}
    }
    for size in 1 ... 5 {
        for count in [0, 1, 3, 7, 128, 1023] {
            let shares = (0 ..< size).map { Rank($0, of: size).share(of: count) }
            #expect(shares.first!.lowerBound == 0 && shares.last!.upperBound == count)
            #expect(zip(shares, shares.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
            let sizes = shares.map(\.count)
            #expect(sizes.max()! - sizes.min()! <= 1)
            #expect(count < size || sizes.min()! >= 1)
        }
    }
}

import Foundation
import Testing
import Train

/// Whether this machine can start the tests' own one-machine Slurm: root (slurmd runs the
/// jobs) and Debian's slurm-wlm and munge, which scripts/setup.sh installs.
let slurmCanStart =
    getuid() == 0
    && ["/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/sbin/munged", "/usr/bin/sbatch"].allSatisfy { FileManager.default.isExecutableFile(atPath: $0) }

/// A Slurm of its own for one test: started on loopback in `folder`, stopped (by the PIDs in
/// its pid files) when the test ends, passing or failing.
final class LocalSlurm {
    let folder: URL
    let configuration: String
    init(in folder: URL) throws {
        self.folder = folder
        let process = Process()
        process.executableURL = repository.appendingPathComponent("scripts/slurm-cluster.sh")
        process.arguments = ["start", folder.path]
        // Into a file, not a pipe: the daemons it starts inherit its descriptors, and a pipe one
        // of them holds would never reach its end.
        let log = folder.deletingLastPathComponent().appendingPathComponent("cluster-start.log")
        FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        process.waitUntilExit()
        try handle.close()
        let printed = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
        let complaint = printed
        configuration = printed.split(separator: "\n").last.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
        guard process.terminationStatus == 0, configuration.hasSuffix("slurm.conf") else {
            LocalSlurm.stop(folder)
            throw SlurmStartFailure(description: "the test cluster did not start: \(complaint)")
        }
    }
    deinit { LocalSlurm.stop(folder) }

    static func stop(_ folder: URL) {
        let process = Process()
        process.executableURL = repository.appendingPathComponent("scripts/slurm-cluster.sh")
        process.arguments = ["stop", folder.path]
        try? process.run()
        process.waitUntilExit()
    }

    var environment: [String: String?] { ["SLURM_CONF": configuration] }

    /// squeue's lines for a job ("12_3 RUNNING"), one per array task.
    func queue(_ job: String) -> [String] {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/squeue")
        process.arguments = ["-h", "-r", "-j", job, "-o", "%i %T"]
        process.environment = ProcessInfo.processInfo.environment.merging(["SLURM_CONF": configuration]) { $1 }
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return [] }
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return text.split(separator: "\n").map(String.init)
    }

    /// Waits until Slurm no longer lists the job (every task ended), at most `seconds`.
    func waitForEnd(_ job: String, seconds: Double = 240) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if queue(job).isEmpty { return true }
            usleep(300_000)
        }
        return false
    }

    func run(_ command: String, _ arguments: [String]) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(["SLURM_CONF": configuration]) { $1 }
        try? process.run()
        process.waitUntilExit()
    }
}

struct SlurmStartFailure: Error, CustomStringConvertible { var description: String }

/// The job id in `runner --slurm`'s output ("… as Slurm job array 12 (tasks …").
func submittedJob(_ output: String) -> String? {
    guard let range = output.range(of: "Slurm job array ") else { return nil }
    return String(output[range.upperBound...].prefix { $0.isNumber })
}

@Suite("Sweeps as Slurm job arrays, on a real one-machine Slurm", .serialized, .enabled(if: slurmCanStart, "needs root and Slurm: scripts/setup.sh"))
struct SlurmTests {
    /// A 4-point digits sweep, one thread a point (as each array task gets one core).
    static let sweep = """
        name: sw
        seed: 3
        model: {input: [8, 8, 1], layers: [{conv: {filters: 8, kernel: 3, activation: relu}}, {flatten: {}}, {dense: {units: 10}}]}
        data: {dataset: digits}
        train: {epochs: 6, threads: 1, optimizer: {adam: {lr: 0.003}}}
        tensorboard: {enabled: false}
        sweep:
          seed: [1, 2]
          train.batch_size: [32, 64]

        """

    /// The sweep's model, one point, trained for `epochs`.
    static func onePoint(epochs: Int) -> String {
        sweep.replacingOccurrences(of: "epochs: 6", with: "epochs: \(epochs)").replacingOccurrences(
            of: "sweep:\n  seed: [1, 2]\n  train.batch_size: [32, 64]\n", with: "")
    }

    /// Waits (at most two minutes) until the run's summary counts `epochs` finished epochs.
    static func wait(for run: URL, epochs: Int) {
        let deadline = Date().addingTimeInterval(120)
        while Date() < deadline && ((try? summary(run))?.epochsCompleted ?? 0) < epochs { usleep(100_000) }
    }

    @Test("a 4-point sweep as one job array: each point's metrics are a local run's, bit for bit; a second submission submits nothing")
    func sweepOnSlurm() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        try Self.sweep.write(to: scratch.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let slurm = try LocalSlurm(in: scratch.appendingPathComponent("cluster"))
        let submitted = try runner(
            ["sweep.yaml", "--slurm", "--cpus-per-task", "1", "--mem", "1000", "--max-parallel", "2"], in: scratch, environment: slurm.environment)
        #expect(submitted.status == 0, "\(submitted.error)")
        #expect(submitted.output.contains("Submitted 4 points"), "\(submitted.output)")
        let job = try #require(submittedJob(submitted.output))
        // The script is a readable file beside the task list and the logs.
        let submissions = try FileManager.default.contentsOfDirectory(atPath: scratch.appendingPathComponent("runs/.slurm").path)
        #expect(submissions.count == 1)
        let folder = scratch.appendingPathComponent("runs/.slurm/\(submissions[0])")
        let script = try String(contentsOf: folder.appendingPathComponent("submit.sbatch"), encoding: .utf8)
        #expect(script.contains("#SBATCH --array=0-3%2") && script.contains("#SBATCH --signal=B:USR1@120") && script.contains("--only \"$point\""))
        // While it runs, `runner runs` shows Slurm's view (a column of states).
        let listing = try runner(["runs", "runs"], in: scratch, environment: slurm.environment)
        #expect(listing.status == 0)
        #expect(slurm.waitForEnd(job), "the job array did not finish: \(slurm.queue(job))")
        let logs = try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("logs").path)
        #expect(logs.count == 4, "\(logs)")
        // The same points locally, one thread each: the same metrics, bit for bit.
        let local = try runner(["sweep.yaml", "--runs", "local"], in: scratch)
        #expect(local.status == 0, "\(local.error)")
        let points = try FileManager.default.contentsOfDirectory(atPath: scratch.appendingPathComponent("local/sw").path).filter { !$0.hasPrefix(".") }
        #expect(points.count == 4)
        for point in points {
            let remote = try summary(scratch.appendingPathComponent("runs/sw/\(point)"))
            let here = try summary(scratch.appendingPathComponent("local/sw/\(point)"))
            #expect(remote.status == .completed, "\(point): \(remote.status)")
            #expect(withoutTimings(remote.history) == withoutTimings(here.history), "\(point)")
        }
        let again = try runner(["sweep.yaml", "--slurm", "--cpus-per-task", "1"], in: scratch, environment: slurm.environment)
        #expect(again.status == 0 && again.output.contains("Nothing to submit: 4 completed"), "\(again.output) \(again.error)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: scratch.appendingPathComponent("runs/.slurm").path).count == 1)
    }

    @Test("scancel of a running task, then a second submission: it resumes from its checkpoint, metrics bit-identical to an uninterrupted run")
    func cancelAndResume() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        try Self.onePoint(epochs: 60).write(to: scratch.appendingPathComponent("one.yaml"), atomically: true, encoding: .utf8)
        let slurm = try LocalSlurm(in: scratch.appendingPathComponent("cluster"))
        let submitted = try runner(["one.yaml", "--slurm", "--cpus-per-task", "1"], in: scratch, environment: slurm.environment)
        let job = try #require(submittedJob(submitted.output), "\(submitted.output) \(submitted.error)")
        let run = scratch.appendingPathComponent("runs/sw/default")
        // Cancel once the task has written a few epochs' checkpoints and is mid-run.
        Self.wait(for: run, epochs: 3)
        #expect(slurm.queue(job).contains { $0.hasSuffix("RUNNING") }, "the task is not running: \(slurm.queue(job))")
        let listing = try runner(["runs", "runs"], in: scratch, environment: slurm.environment)
        #expect(listing.output.contains("RUNNING (job \(job)_0)"), "\(listing.output)")
        slurm.run("/usr/bin/scancel", [job])
        #expect(slurm.waitForEnd(job, seconds: 60))
        let stopped = try summary(run)
        #expect(stopped.status == .interrupted, "\(stopped.status): \(stopped.error ?? "")")
        #expect(stopped.epochsCompleted < 60)
        let resubmitted = try runner(["one.yaml", "--slurm", "--cpus-per-task", "1"], in: scratch, environment: slurm.environment)
        let second = try #require(submittedJob(resubmitted.output), "\(resubmitted.output) \(resubmitted.error)")
        #expect(slurm.waitForEnd(second))
        let resumed = try summary(run)
        #expect(resumed.status == .completed && resumed.resumedFrom != nil)
        let uninterrupted = try runner(["one.yaml", "--runs", "local"], in: scratch)
        #expect(uninterrupted.status == 0)
        #expect(withoutTimings(resumed.history) == withoutTimings(try summary(scratch.appendingPathComponent("local/sw/default")).history))
    }
}

extension SlurmTests {
    @Test("the warning before the time limit (SIGUSR1 to the batch script): checkpoint, requeue, resume; metrics bit-identical to an uninterrupted run")
    func timeLimitRequeue() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        try Self.onePoint(epochs: 400).write(to: scratch.appendingPathComponent("one.yaml"), atomically: true, encoding: .utf8)
        let slurm = try LocalSlurm(in: scratch.appendingPathComponent("cluster"))
        let submitted = try runner(["one.yaml", "--slurm", "--cpus-per-task", "1", "--time", "1-00:00"], in: scratch, environment: slurm.environment)
        let job = try #require(submittedJob(submitted.output), "\(submitted.output) \(submitted.error)")
        let run = scratch.appendingPathComponent("runs/sw/default")
        Self.wait(for: run, epochs: 20)
        // What Slurm sends --signal's lead time before the limit: SIGUSR1 to the batch script alone.
        slurm.run("/usr/bin/scancel", ["--signal=USR1", "--batch", job])
        // Requeued, the task waits out Slurm's requeue delay (about two minutes): start it now.
        let requeued = Date().addingTimeInterval(60)
        while Date() < requeued && !slurm.queue(job).contains(where: { $0.hasSuffix("PENDING") }) { usleep(200_000) }
        #expect((try summary(run)).status == .interrupted)
        slurm.run("/usr/bin/scontrol", ["update", "jobid=\(job)_0", "starttime=now"])
        #expect(slurm.waitForEnd(job))
        let resumed = try summary(run)
        #expect(resumed.status == .completed && resumed.resumedFrom != nil, "\(resumed.status) \(resumed.error ?? "")")
        let log = try FileManager.default.contentsOfDirectory(atPath: scratch.appendingPathComponent("runs/.slurm").path).first!
        let output = try String(contentsOf: scratch.appendingPathComponent("runs/.slurm/\(log)/logs/\(job)_0.out"), encoding: .utf8)
        #expect(output.contains("time limit near; checkpointed, requeueing \(job)_0") && output.contains("Resuming sw/default from step-"))
        let uninterrupted = try runner(["one.yaml", "--runs", "local"], in: scratch)
        #expect(uninterrupted.status == 0)
        #expect(withoutTimings(resumed.history) == withoutTimings(try summary(scratch.appendingPathComponent("local/sw/default")).history))
    }
}

@Suite("Slurm without a cluster: --slurm's flags, and squeue and sacct read back")
struct SlurmFlagTests {
    @Test(
        "a bad flag, or no sbatch on PATH: one message, exit 2 (1 for a missing Slurm), nothing written",
        arguments: [
            (["--time", "90min"], "error: --time '90min' is not a Slurm time limit"),
            (["--mem", "4 GB"], "error: --mem '4 GB' is not a Slurm memory size"),
            (["--partition", "a;b"], "error: --partition 'a;b' is not a partition name"),
            (["--cpus-per-task", "0"], "error: --cpus-per-task must be at least 1, got 0"),
            (["--max-parallel", "0"], "error: --max-parallel must be at least 1, got 0"),
            (["--restart"], "error: --restart cannot be combined with --slurm"),
            (["--jobs", "2"], "error: --jobs cannot be combined with --slurm"),
            ([], "error: --slurm needs Slurm's sbatch, which is not on PATH"),
        ])
    func refused(flags: [String], message: String) throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let runs = scratch.appendingPathComponent("runs")
        // PATH without Slurm's commands: only the last case gets as far as looking for sbatch.
        let result = try runner(["configs/digits.yaml", "--slurm", "--runs", runs.path] + flags, environment: ["PATH": "/nonexistent"])
        #expect(result.error.contains(message), "\(result.error)")
        #expect(result.status == (flags.isEmpty ? 1 : 2))
        #expect(!FileManager.default.fileExists(atPath: runs.path))
    }

    @Test("runner runs reads squeue (live) and sacct (how a point's newest task ended) for each submission's points")
    func slurmColumn() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let bin = scratch.appendingPathComponent("bin"), runs = scratch.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        // Stand-ins for Slurm's clients, printing what a cluster with accounting would.
        for (name, output) in [("squeue", "7_1 RUNNING\\n7_2 PENDING\\n"), ("sacct", "5_0|CANCELLED by 0\\n5_1|TIMEOUT\\n7_0|COMPLETED\\n")] {
            let path = bin.appendingPathComponent(name)
            try "#!/bin/sh\nprintf '\(output)'\n".write(to: path, atomically: true, encoding: .utf8)
            try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: path.path)
        }
        for (submission, job, tasks) in [("2026-12-01T000000Z", "5", "0\tsw/a\n1\tsw/b\n"), ("2026-12-02T000000Z", "7", "0\tsw/a\n1\tsw/c\n2\tsw/d\n")] {
            let folder = runs.appendingPathComponent(".slurm/\(submission)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try "\(job)\n".write(to: folder.appendingPathComponent("job"), atomically: true, encoding: .utf8)
            try tasks.write(to: folder.appendingPathComponent("tasks.tsv"), atomically: true, encoding: .utf8)
        }
        let result = try runner(["runs", runs.path], environment: ["PATH": bin.path + ":/usr/bin:/bin"])
        #expect(result.status == 0, "\(result.error)")
        let rows = result.output.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
        #expect(rows.first?.last == "slurm")
        // sw/a's newest task completed (its older CANCELLED is history): no row without a summary.
        #expect(!rows.contains { $0.first == "sw/a" })
        #expect(rows.contains { $0.first == "sw/b" && $0.suffix(3) == ["TIMEOUT", "(job", "5_1)"] }, "\(result.output)")
        #expect(rows.contains { $0.first == "sw/c" && $0.suffix(3) == ["RUNNING", "(job", "7_1)"] }, "\(result.output)")
        #expect(rows.contains { $0.first == "sw/d" && $0.suffix(3) == ["PENDING", "(job", "7_2)"] }, "\(result.output)")
    }

    @Test(
        "every time format sbatch takes passes; --dry-run lists what would be submitted and writes nothing",
        arguments: ["90", "45:30", "01:30:00", "2-12", "1-12:30", "1-00:00:10"])
    func timeFormats(time: String) throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let runs = scratch.appendingPathComponent("runs")
        let result = try runner(["configs/digits.yaml", "--slurm", "--dry-run", "--time", time, "--runs", runs.path], environment: ["PATH": "/nonexistent"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("would submit") && result.output.contains("digits/default"))
        #expect(!FileManager.default.fileExists(atPath: runs.path))
    }
}

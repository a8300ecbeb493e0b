import ArgumentParser
import CSystem
import Datasets
import Dispatch
import Foundation
import Kernels
import Ranks
import Spec
import Train

/// `runner CONFIG...`: every file, every sweep point. All specs are validated first (nothing is
/// written for a sweep with a bad file); then each run is skipped (completed), resumed (from
/// its newest checkpoint) or started; a failing run never stops the others. Ends with a table.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Train every experiment and sweep point given (the default verb).")

    @Argument(help: "Experiment files (YAML).")
    var configs: [String]

    @Option(help: "Folder that holds the runs.")
    var runs = "runs"

    @Option(help: "Threads for BLAS and kernels per run (default: the spec's train.threads, else every core divided by --jobs).")
    var threads: Int?

    @Option(name: .customLong("set"), help: ArgumentHelp("Override a key of every spec, e.g. --set train.epochs=5 (repeatable).", valueName: "key=value"))
    var assignments: [String] = []

    @Option(help: "Runs to train at once, as separate processes, the cores divided between them.")
    var jobs = 1

    @Flag(help: "List the runs and their state; train nothing.")
    var dryRun = false

    @Flag(help: "Start runs from scratch: completed ones, interrupted ones and ones whose spec changed (their files are replaced).")
    var restart = false

    @Option(help: .hidden)
    var only: String?

    @OptionGroup(title: "Slurm")
    var slurm: SlurmOptions

    /// Set by a --jobs parent on its children: the parent's pid. The child then dies with the
    /// parent (SIGTERM: it checkpoints and stops), and writes its console to the run's
    /// console.log once it holds the run's lock (so a run another runner trains keeps its log).
    @Option(help: .hidden)
    var childOf: Int32?

    /// A run another runner process holds: the --jobs child's exit status for it.
    static let lockedStatus: Int32 = 75

    /// The processes training each run together: one, or the ranks of an `mpirun` job.
    var collective: any Collective = SingleProcess()

    enum CodingKeys: CodingKey {
        case configs, runs, threads, assignments, jobs, dryRun, restart, only, childOf, slurm
    }

    mutating func run() throws {
        if let childOf, runner_die_with_parent(childOf) < 0 { throw ExitCode(143) }  // the parent is already gone
        if let threads, threads < 1 { fail("--threads must be at least 1, got \(threads)", hint: "omit it to use every core") }
        if jobs < 1 { fail("--jobs must be at least 1, got \(jobs)", hint: "for example --jobs 2") }
        if Ranks.launched {
            do { collective = try Ranks.start().collective } catch {
                printError("\(error)")
                throw ExitCode(2)
            }
            if collective.size > 1 {
                if jobs > 1 { fail("--jobs cannot be combined with mpirun (\(collective.size) ranks train each run together)", hint: "drop --jobs") }
                // Rank 0 speaks for the job; the others keep only their stderr.
                if !collective.isRoot {
                    fflush(nil)
                    let null = open("/dev/null", O_WRONLY)
                    if null >= 0 { dup2(null, 1); close(null) }
                }
            }
        }
        defer { if Ranks.launched { Ranks.finish() } }
        var overrides: [Override] = []
        var planned: [(config: String, run: PlannedRun, experiment: Experiment)] = []
        var invalid = false
        do {
            overrides = try assignments.map { assignment throws(SpecError) in try Override.parse(assignment: assignment) }
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        for path in configs {
            do {
                for run in try ExperimentSpec.expand(path: path, overrides: overrides) where only == nil || only == run.runName {
                    planned.append((path, run, try Experiment(spec: run.spec)))
                }
            } catch {
                printError(error.description)
                invalid = true
            }
        }
        if invalid { throw ExitCode(2) }
        var seen: [String: String] = [:]
        for item in planned {
            let key = "\(item.run.spec.name)/\(item.run.runName)"
            if let other = seen[key], other != item.config {
                fail("\(item.config) and \(other) both write runs/\(key)", hint: "give the experiments different name: keys")
            }
            seen[key] = item.config
        }

        if slurm.enabled {
            try submitToSlurm(planned.map { ($0.config, $0.run) })
            return
        }
        if dryRun {
            let queued = Slurm.queueStates(runs: runs)
            let rows = planned.map { item -> [String] in
                let directory = runDirectory(item.run), label = "\(item.run.spec.name)/\(item.run.runName)"
                return [label, RunFolder.state(of: directory), item.config] + (queued.isEmpty ? [] : [queued[label]?.text ?? "-"])
            }
            printTable(["run", "state", "config"] + (queued.isEmpty ? [] : ["slurm"]), rows)
            if let left = sweepTimeLeft(planned.map { RunFolder.summary(in: runDirectory($0.run)) }) { print(left) }
            return
        }

        runner_install_stop_handlers()
        let stop = StopRequest { runner_stop_signal() }
        Download.interruption = { stop.requested }  // a download in progress stops too
        var results: [(String, RunSummary?, String)] = []
        if jobs > 1 && planned.count > 1 {
            results = try runInParallel(planned.map { ($0.config, $0.run) }, stop: stop)
        } else {
            var dataCache: [String: (train: Dataset, validation: Dataset)] = [:]
            for item in planned {
                let (summary, note) = train(item.run, item.experiment, stop: stop, dataCache: &dataCache)
                results.append(("\(item.run.spec.name)/\(item.run.runName)", summary, note))
                if stop.requested != nil { break }
            }
        }
        if results.count > 1 || planned.count > 1 { printSummaryTable(results) }
        if let signal = stop.requested { throw ExitCode(128 + signal) }
        // A run another runner is training is that runner's to finish, not a failure: exit 1 when
        // a run failed, else 75 (EX_TEMPFAIL) when some were locked, else 0.
        if results.contains(where: { $0.1?.status != .completed && !$0.2.hasPrefix("locked by") }) { throw ExitCode(1) }
        if results.contains(where: { $0.2.hasPrefix("locked by") }) { throw ExitCode(Self.lockedStatus) }
    }

    func runDirectory(_ run: PlannedRun) -> String {
        ((runs as NSString).appendingPathComponent(run.spec.name) as NSString).appendingPathComponent(run.runName)
    }

    /// Trains (or skips, or resumes) one run. Returns its summary, or nil and why not.
    func train(_ run: PlannedRun, _ experiment: Experiment, stop: StopRequest, dataCache: inout [String: (train: Dataset, validation: Dataset)]) -> (
        RunSummary?, String
    ) {
        let directory = runDirectory(run)
        // Rank 0 alone holds the run's lock and prepares its folder; the others follow its word.
        var folder: RunFolder?
        var outcome: (RunSummary?, String)?
        if collective.isRoot { (folder, outcome) = prepareFolder(run, directory: directory) }
        defer { folder?.release() }
        var skip: [Int32] = [outcome == nil ? 0 : 1]
        collective.broadcast(&skip)
        if skip[0] != 0 { return outcome ?? (RunFolder.summary(in: directory), "rank 0 did not train it") }
        var data: (train: Dataset, validation: Dataset)?
        var test: Dataset?
        let cacheKey = run.spec.resolvedDataKey
        do throws(DataError) {
            let loaded: (train: Dataset, validation: Dataset)
            if let cached = dataCache[cacheKey] { loaded = cached } else { loaded = try experiment.loadData() }
            dataCache = [cacheKey: loaded]
            if run.spec.data.test != .never { test = try experiment.loadTest(like: loaded.train) }
            data = loaded
        } catch {
            printError(error.description)
            data = nil
        }
        guard !collective.any(data == nil), let data else { return (nil, "data error") }
        let trainer = Trainer(
            experiment: experiment, train: data.train, validation: data.validation, test: test, threads: threads ?? defaultThreads(),
            collective: collective)
        let logger = collective.isRoot && run.spec.tensorboard.enabled ? TensorBoardLogger(spec: run.spec, varied: run.varied) : nil
        if collective.isRoot { trainer.add(Console(every: run.spec.train.logEverySteps)) }
        if let logger { trainer.add(logger) }
        do {
            let trained = try trainer.run(directory: directory, runName: run.runName, stop: stop)
            let summary = folder?.record(varied: run.varied, in: trained) ?? trained
            if let logger {
                print(
                    String(
                        format: "TensorBoard logging took %.2f s of %.1f s (%.2f%%)", logger.secondsSpent, summary.wallSeconds,
                        100 * logger.secondsSpent / max(summary.wallSeconds, 1e-9)))
            }
            return (summary, "")
        } catch let error as CheckpointError {
            printError(error.description)
            return (nil, "checkpoint error")
        } catch {
            printError("\(directory): error: \(error.localizedDescription)\nhint: check that the runs folder is writable and the disk has space")
            return (nil, "write error")
        }
    }

    /// Rank 0's lock on the run folder and its state: nil to train, or why not (completed:
    /// skipped; locked or unreadable: the error).
    func prepareFolder(_ run: PlannedRun, directory: String) -> (RunFolder?, (RunSummary?, String)?) {
        let folder: RunFolder
        do {
            folder = try RunFolder(directory, label: "\(run.spec.name)/\(run.runName)")
        } catch {
            printError(error.description)
            return (nil, (nil, error.note))
        }
        // A --jobs child speaks into the run's console.log once the run is its own.
        if childOf != nil { redirectConsole(to: directory) }
        do {
            if case .skip(let summary) = try folder.prepare(resolvedConfig: run.spec.resolvedYAML(), restart: restart) {
                print("\(folder.label) already completed (\(directory)); skipping. Use --restart to train it again.")
                return (folder, (summary, "skipped"))
            }
        } catch {
            printError(error.description)
            return (folder, (nil, error.note))
        }
        return (folder, nil)
    }

    /// Threads per run when --threads is not given: the cores shared between --jobs runs or
    /// between the MPI ranks on this machine; otherwise the spec's train.threads, else every core.
    func defaultThreads() -> Int? {
        if collective.size > 1 { return WorkerPool.defaultCount(jobs: Ranks.onThisNode ?? collective.size) }
        return jobs > 1 ? WorkerPool.defaultCount(jobs: jobs) : nil
    }

    /// Runs each planned run as a child `runner` process, `jobs` at a time, each with the cores
    /// divided between them; a child's console goes to console.log in its run directory.
    func runInParallel(_ planned: [(String, PlannedRun)], stop: StopRequest) throws -> [(String, RunSummary?, String)] {
        let executable = ownExecutable()
        let perJob = threads ?? WorkerPool.defaultCount(jobs: jobs)
        var pending = planned[...]
        var running: [(Process, String, String)] = []
        var results: [(String, RunSummary?, String)] = []
        func reap() {
            running.removeAll { process, label, directory in
                guard !process.isRunning else { return false }
                var summary = RunFolder.summary(in: directory)
                let status = process.terminationStatus, bySignal = process.terminationReason == .uncaughtSignal
                let note: String
                if status == Self.lockedStatus && !bySignal {
                    note = "locked by another runner"
                    summary = nil
                } else if status == 0 && !bySignal {
                    note = summary?.status == .completed ? "" : "exit 0"
                } else {
                    note = bySignal ? "killed by signal \(status)" : "exit \(status)"
                    // A child that died mid-run left its summary saying running: say what happened.
                    if var died = summary, died.status == .running {
                        died.status = .failed
                        died.error = died.error ?? note
                        summary = died
                    }
                }
                print("\(label): \(note.isEmpty ? "finished" : note) (console: \(directory)/console.log)")
                results.append((label, summary, note))
                return true
            }
        }
        while !pending.isEmpty || !running.isEmpty {
            while running.count < jobs, stop.requested == nil, let (config, run) = pending.first {
                pending = pending.dropFirst()
                let directory = runDirectory(run)
                let process = Process()
                process.executableURL = URL(fileURLWithPath: executable)
                // The child writes its own console.log once it holds the run's lock; until then
                // (and if another runner holds it) it speaks on this process's stderr.
                var arguments = ["train", config, "--runs", runs, "--threads", String(perJob), "--only", run.runName, "--child-of", String(getpid())]
                for assignment in assignments { arguments += ["--set", assignment] }
                if restart { arguments.append("--restart") }
                process.arguments = arguments
                process.standardOutput = FileHandle.standardError
                process.standardError = FileHandle.standardError
                try process.run()
                print("\(run.spec.name)/\(run.runName): started (pid \(process.processIdentifier), \(perJob) threads)")
                running.append((process, "\(run.spec.name)/\(run.runName)", directory))
            }
            if let signal = stop.requested {
                for (process, _, _) in running where process.isRunning { kill(process.processIdentifier, signal) }
                pending = []
            }
            reap()
            if !running.isEmpty { usleep(100_000) }
        }
        return results
    }

    /// The sweep's table; with a column of Slurm's view where earlier `--slurm` submissions to
    /// this runs folder still have points queued or running.
    func printSummaryTable(_ results: [(String, RunSummary?, String)]) {
        let queued = Slurm.queueStates(runs: runs)
        let rows = results.map { label, summary, note -> [String] in
            let slurmColumn = queued.isEmpty ? [] : [queued[label]?.text ?? "-"]
            guard let summary else { return [label, note.hasPrefix("locked by") ? "locked" : "failed", "-", "-", "-"] + slurmColumn + [note] }
            let status = note == "skipped" ? "done (skipped)" : summary.status.rawValue
            return [
                label, status, "\(summary.epochsCompleted)/\(summary.epochs)",
                summary.best.map { String(format: "%.2f%%", $0.validationAccuracy * 100) } ?? "-",
                String(format: "%.1f s", summary.wallSeconds),
            ] + slurmColumn + [summary.error ?? note]
        }
        print("")
        printTable(["run", "status", "epochs", "best val_acc", "wall"] + (queued.isEmpty ? [] : ["slurm"]) + ["note"], rows)
        if let left = sweepTimeLeft(results.map { $0.1 }) { print(left) }
    }

    /// "Time left for the sweep: about 1:02:00 (…)", when points remain and some completed: the
    /// epochs still to train at the completed points' mean seconds per epoch (one process at a
    /// time; --jobs divides it).
    func sweepTimeLeft(_ summaries: [RunSummary?]) -> String? {
        let completed = summaries.compactMap { $0 }.filter { $0.status == .completed && $0.epochsCompleted > 0 }
        let epochsLeft = summaries.reduce(0) { sum, summary in
            guard let summary else { return sum + (completed.first?.epochs ?? 0) }
            return sum + (summary.status == .completed ? 0 : max(summary.epochs - summary.epochsCompleted, 0))
        }
        guard epochsLeft > 0, !completed.isEmpty else { return nil }
        let perEpoch = completed.reduce(0.0) { $0 + $1.wallSeconds } / Double(completed.reduce(0) { $0 + $1.epochsCompleted })
        let seconds = Double(epochsLeft) * perEpoch / Double(max(jobs, 1))
        let rate = String(format: "%.1f s an epoch", perEpoch)
        return "Time left for the sweep: about \(formatDuration(seconds)) (\(epochsLeft) epochs at the completed runs' \(rate)"
            + (jobs > 1 ? ", \(jobs) at once)" : ")")
    }
}

func fail(_ message: String, hint: String) -> Never {
    printError("error: \(message)\nhint: \(hint)")
    Foundation.exit(2)
}

/// Sends this process's stdout and stderr to the end of the run folder's console.log (a --jobs
/// child, once it holds its run's lock): earlier invocations' logs are kept, never truncated.
func redirectConsole(to directory: String) {
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let path = (directory as NSString).appendingPathComponent("console.log")
    let descriptor = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644)
    guard descriptor >= 0 else { return }  // the console then stays the parent's stderr
    fflush(nil)
    dup2(descriptor, 1); dup2(descriptor, 2)
    close(descriptor)
}

/// Prints rows under a header, columns padded.
func printTable(_ header: [String], _ rows: [[String]]) {
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    for row in all {
        print(
            row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ").replacingOccurrences(
                of: "\\s+$", with: "", options: .regularExpression))
    }
}

/// The path of this very binary, for `--jobs`' children: the kernel's link to the running
/// image on Linux (not argv[0], which a shell resolves through PATH and which, relative, would
/// run whatever file of that name the current folder holds), the loader's answer on macOS.
func ownExecutable() -> String {
    #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
    #elseif canImport(Darwin)
        var size: UInt32 = 0
        _ = _NSGetExecutablePath(nil, &size)
        var buffer = [CChar](repeating: 0, count: Int(size) + 1)
        if _NSGetExecutablePath(&buffer, &size) == 0 { return URL(fileURLWithPath: String(cString: buffer)).resolvingSymlinksInPath().path }
    #endif
    return URL(fileURLWithPath: CommandLine.arguments[0]).path
}

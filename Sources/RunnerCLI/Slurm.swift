import ArgumentParser
import Foundation
import Spec
import Train

/// `runner CONFIG... --slurm`: the sweep's points that still need work, as ONE Slurm job array.
/// Each array task runs `runner train FILE --only POINT` on the shared runs folder, so what a
/// task does is what a local run of that point does: skip it when completed, resume it from its
/// newest checkpoint, retry it when it failed. Slurm's vocabulary for the flags.
struct SlurmOptions: ParsableArguments {
    @Flag(name: .customLong("slurm"), help: "Submit the points that need work as one Slurm job array (sbatch) instead of training here.")
    var enabled = false

    @Option(help: "Slurm partition for --slurm (default: the cluster's).")
    var partition: String?

    @Option(help: "Time limit of each array task for --slurm, in sbatch's format (minutes, HH:MM:SS, D-HH:MM).")
    var time: String?

    @Option(help: "Cores of each array task for --slurm (its runner's threads).")
    var cpusPerTask = 2

    @Option(help: "Memory of each array task for --slurm, in sbatch's format (e.g. 4G).")
    var mem: String?

    @Option(help: "Array tasks running at once for --slurm (default: as many as Slurm allows).")
    var maxParallel: Int?

    /// What runner asks of sbatch, checked here so that a mistake is named before anything is
    /// written (sbatch's own message would come after the script exists).
    func validate(restart: Bool, jobs: Int) throws(SubmissionError) {
        if restart {
            throw SubmissionError(
                "--restart cannot be combined with --slurm: a requeued task would restart again",
                hint: "run --restart locally, or delete the runs to train anew")
        }
        if jobs > 1 { throw SubmissionError("--jobs cannot be combined with --slurm: Slurm runs the array's tasks at once", hint: "use --max-parallel") }
        if cpusPerTask < 1 { throw SubmissionError("--cpus-per-task must be at least 1, got \(cpusPerTask)", hint: "for example --cpus-per-task 2") }
        if let maxParallel, maxParallel < 1 {
            throw SubmissionError("--max-parallel must be at least 1, got \(maxParallel)", hint: "for example --max-parallel 4")
        }
        if let partition, partition.range(of: "^[A-Za-z0-9_.-]{1,64}$", options: .regularExpression) == nil {
            throw SubmissionError("--partition '\(partition)' is not a partition name", hint: "`sinfo -s` lists the partitions")
        }
        if let time, Self.seconds(time) == nil {
            throw SubmissionError("--time '\(time)' is not a Slurm time limit", hint: "write minutes (90), HH:MM:SS (01:30:00) or D-HH:MM (1-12:00)")
        }
        if let mem, mem.range(of: "^[0-9]{1,9}[KMGT]?$", options: .regularExpression) == nil {
            throw SubmissionError("--mem '\(mem)' is not a Slurm memory size", hint: "write megabytes (4000) or a size with its unit (4G)")
        }
    }

    /// A Slurm time limit in seconds: "M", "M:S", "H:M:S", "D-H", "D-H:M", "D-H:M:S".
    static func seconds(_ text: String) -> Int? {
        let pattern = "^(?:([0-9]{1,4})-)?([0-9]{1,6})(?::([0-9]{1,2}))?(?::([0-9]{1,2}))?$"
        guard let match = try? NSRegularExpression(pattern: pattern).firstMatch(in: text, range: NSRange(text.startIndex..., in: text)) else { return nil }
        func group(_ i: Int) -> Int? { Range(match.range(at: i), in: text).flatMap { Int(text[$0]) } }
        let numbers = (2 ... 4).compactMap(group)
        if let days = group(1) {  // D-H, D-H:M, D-H:M:S
            let parts = numbers + [0, 0]
            return ((days * 24 + parts[0]) * 60 + parts[1]) * 60 + parts[2]
        }
        switch numbers.count {
        case 1: return numbers[0] * 60  // minutes
        case 2: return numbers[0] * 60 + numbers[1]  // minutes:seconds
        default: return (numbers[0] * 60 + numbers[1]) * 60 + numbers[2]  // hours:minutes:seconds
        }
    }

    /// How long before its time limit a task is warned (SIGUSR1): it then checkpoints, stops and
    /// is requeued. Two minutes, or a fifth of a short limit.
    var warningSeconds: Int {
        guard let time, let limit = Self.seconds(time) else { return 120 }
        return max(10, min(120, limit / 5))
    }
}

struct SubmissionError: Error, CustomStringConvertible {
    var message: String, hint: String
    init(_ message: String, hint: String) { self.message = message; self.hint = hint }
    var description: String { "error: \(message)\nhint: \(hint)" }
}

/// A point's state on Slurm, as the tables show it; `live` while queued or running (a new
/// submission then leaves it out).
struct SlurmState: Equatable {
    var text: String
    var live: Bool
}

/// One point of a submission: the experiment file, the run's name and its `experiment/run` label.
struct SlurmPoint {
    var config: String, runName: String, label: String
}

/// Submissions live under `<runs>/.slurm/<time>/` (a name no experiment can have): the sbatch
/// script, `tasks.tsv` (array index, label, config, run name) and `job` (the job id), and the
/// tasks' logs. `runner runs` and the sweep's table read them back to ask Slurm where each
/// point is.
enum Slurm {
    static func folder(runs: String) -> String { (runs as NSString).appendingPathComponent(".slurm") }

    /// A command's path on PATH, or nil.
    static func command(_ name: String) -> String? {
        for directory in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
            let path = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Runs a command; its exit status and stdout, stderr (nil: it could not start).
    static func capture(_ executable: String, _ arguments: [String]) -> (status: Int32, output: String, error: String)? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let output = Pipe(), error = Pipe()
        process.standardOutput = output
        process.standardError = error
        guard (try? process.run()) != nil else { return nil }
        let out = output.fileHandleForReading.readDataToEndOfFile(), err = error.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }

    /// Where Slurm has each point of the earlier submissions under `runs`: label → state. Live
    /// (queued or running) from squeue; for a point's newest task that squeue no longer lists,
    /// how it ended when sacct knows and it did not complete (a cluster with accounting storage:
    /// "OUT_OF_MEMORY", "TIMEOUT", "CANCELLED" say why a point stopped). Empty where there is no
    /// submission or no Slurm client.
    static func queueStates(runs: String) -> [String: SlurmState] {
        let submissions = ((try? FileManager.default.contentsOfDirectory(atPath: folder(runs: runs))) ?? []).sorted()
        var labels: [String: String] = [:]  // "job_task" → label
        var newest: [String: String] = [:]  // label → its newest "job_task"
        for submission in submissions {
            let directory = (folder(runs: runs) as NSString).appendingPathComponent(submission)
            guard let job = try? String(contentsOfFile: directory + "/job", encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
                job.allSatisfy(\.isNumber), !job.isEmpty,
                let tasks = try? String(contentsOfFile: directory + "/tasks.tsv", encoding: .utf8)
            else { continue }
            for line in tasks.split(separator: "\n") {
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard fields.count >= 2, fields[0].allSatisfy(\.isNumber) else { continue }
                labels["\(job)_\(fields[0])"] = String(fields[1])
                newest[String(fields[1])] = "\(job)_\(fields[0])"
            }
        }
        guard !labels.isEmpty else { return [:] }
        let jobs = Set(labels.keys.map { $0.split(separator: "_")[0] }).sorted().joined(separator: ",")
        var states: [String: SlurmState] = [:]
        // -r: one line per array task ("12_3 RUNNING"); a job squeue no longer lists has ended.
        if let squeue = command("squeue"), let result = capture(squeue, ["-h", "-r", "-j", jobs, "-o", "%i %T"]), result.status == 0 {
            for line in result.output.split(separator: "\n") {
                let fields = line.split(separator: " ")
                if fields.count == 2, let label = labels[String(fields[0])] { states[label] = SlurmState(text: "\(fields[1]) (job \(fields[0]))", live: true) }
            }
        }
        // sacct -X: one line per array task, "12_3|TIMEOUT" (an error where accounting is off).
        if let sacct = command("sacct"), let result = capture(sacct, ["-n", "-X", "-P", "-j", jobs, "-o", "JobID,State"]), result.status == 0 {
            for line in result.output.split(separator: "\n") {
                let fields = line.split(separator: "|")
                guard fields.count == 2, let label = labels[String(fields[0])], newest[label] == String(fields[0]), states[label] == nil else { continue }
                let state = fields[1].split(separator: " ").first.map(String.init) ?? ""  // "CANCELLED by 0"
                if !["COMPLETED", "PENDING", "RUNNING", "REQUEUED"].contains(state) {
                    states[label] = SlurmState(text: "\(state) (job \(fields[0]))", live: false)
                }
            }
        }
        return states
    }

    /// Writes the submission's files and calls sbatch; returns the job id and the folder. On any
    /// failure the folder is removed (nothing is left that Slurm does not run).
    static func submit(
        _ points: [SlurmPoint], options: SlurmOptions, runs: String, assignments: [String], executable: String
    ) throws(SubmissionError) -> (job: String, folder: String) {
        guard let sbatch = command("sbatch") else {
            throw SubmissionError(
                "--slurm needs Slurm's sbatch, which is not on PATH", hint: "install Slurm's client (scripts/setup.sh installs slurm-wlm), or drop --slurm")
        }
        let cwd = FileManager.default.currentDirectoryPath
        let runsPath = URL(fileURLWithPath: runs, relativeTo: URL(fileURLWithPath: cwd)).standardizedFileURL.path
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        var directory = (folder(runs: runsPath) as NSString).appendingPathComponent(stamp)
        var suffix = 1
        while FileManager.default.fileExists(atPath: directory) {
            directory = (folder(runs: runsPath) as NSString).appendingPathComponent("\(stamp)-\(suffix)")
            suffix += 1
        }
        let tasks = points.enumerated().map { "\($0.offset)\t\($0.element.label)\t\($0.element.config)\t\($0.element.runName)\n" }.joined()
        let script = sbatchScript(
            count: points.count, options: options, directory: directory, cwd: cwd, runs: runsPath, assignments: assignments, executable: executable)
        do {
            try FileManager.default.createDirectory(atPath: directory + "/logs", withIntermediateDirectories: true)
            try writeAtomically(tasks, to: directory + "/tasks.tsv")
            try writeAtomically(script, to: directory + "/submit.sbatch")
        } catch {
            try? FileManager.default.removeItem(atPath: directory)
            throw SubmissionError("\(directory): \(error.localizedDescription)", hint: "check that the runs folder is writable")
        }
        guard let result = capture(sbatch, ["--parsable", directory + "/submit.sbatch"]), result.status == 0,
            let job = result.output.split(separator: ";").first.map({ $0.trimmingCharacters(in: .whitespacesAndNewlines) }), !job.isEmpty,
            job.allSatisfy(\.isNumber)
        else {
            let said = (try? capture(sbatch, ["--version"])?.output) ?? nil
            try? FileManager.default.removeItem(atPath: directory)
            throw SubmissionError(
                "sbatch refused the job array\(said.map { " (\($0.trimmingCharacters(in: .whitespacesAndNewlines)))" } ?? "")",
                hint: "check the flags against `sinfo` (partition, time, cores, memory); sbatch said what is wrong above")
        }
        try? writeAtomically(job + "\n", to: directory + "/job")
        return (job, directory)
    }

    /// A value quoted for bash: inside single quotes, each ' closed, escaped and reopened.
    static func quoted(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    /// The job script: readable, and rerunnable by hand (`sbatch submit.sbatch`).
    static func sbatchScript(
        count: Int, options: SlurmOptions, directory: String, cwd: String, runs: String, assignments: [String], executable: String
    ) -> String {
        var header = [
            "--job-name=runner", "--array=0-\(count - 1)\(options.maxParallel.map { "%\($0)" } ?? "")",
            "--cpus-per-task=\(options.cpusPerTask)", "--output=\(directory)/logs/%A_%a.out", "--open-mode=append",
            "--chdir=\(cwd)", "--requeue", "--signal=B:USR1@\(options.warningSeconds)",
        ]
        if let partition = options.partition { header.append("--partition=\(partition)") }
        if let time = options.time { header.append("--time=\(time)") }
        if let mem = options.mem { header.append("--mem=\(mem)") }
        let sets = assignments.map { "--set \(quoted($0))" }.joined(separator: " ")
        return """
            #!/usr/bin/env bash
            # Written by `runner --slurm`: one array task per sweep point of tasks.tsv beside this file
            # (index, run, experiment file, point). Each runs that point as `runner train FILE --only
            # POINT` would here: completed points are skipped, interrupted ones resume from their
            # newest checkpoint. Submit it again by hand with: sbatch \(quoted(directory + "/submit.sbatch"))
            #
            # Before the time limit Slurm sends SIGUSR1 (--signal): runner then checkpoints at the
            # next step, stops, and the task is requeued to continue. scancel (SIGTERM) checkpoints
            # and stops it too; the next submission resumes it.
            \(header.map { "#SBATCH \($0)" }.joined(separator: "\n"))
            set -u
            line=$(awk -F '\\t' -v task="$SLURM_ARRAY_TASK_ID" '$1 == task' \(quoted(directory + "/tasks.tsv")))
            config=$(printf '%s' "$line" | cut -f3)
            point=$(printf '%s' "$line" | cut -f4)
            echo "runner: task $SLURM_ARRAY_TASK_ID of job $SLURM_ARRAY_JOB_ID on $(hostname): $config, point $point"
            requeue=0
            trap 'requeue=1; kill -TERM "$child" 2>/dev/null' USR1
            trap 'kill -TERM "$child" 2>/dev/null' TERM
            \(quoted(executable)) train "$config" --runs \(quoted(runs)) --only "$point" --threads "${SLURM_CPUS_PER_TASK:-1}" \(sets) &
            child=$!
            # wait returns early when a trap runs: wait again until runner itself has exited.
            while true; do
              wait "$child"; status=$?
              kill -0 "$child" 2>/dev/null || break
            done
            if [ "$requeue" = 1 ] && [ "$status" = 143 ]; then
              echo "runner: time limit near; checkpointed, requeueing ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
              scontrol requeue "${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}"
            fi
            exit "$status"

            """
    }
}

extension TrainCommand {
    /// `--slurm`: every point validated as for a local run; those that need work and are not
    /// already queued or running on Slurm go into one job array. Writes nothing when none do.
    func submitToSlurm(_ planned: [(config: String, run: PlannedRun)]) throws {
        do throws(SubmissionError) { try slurm.validate(restart: restart, jobs: jobs) } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        if collective.size > 1 { fail("--slurm submits a sweep; it is not run under mpirun", hint: "run `runner CONFIG --slurm` without mpirun") }
        let queued = Slurm.queueStates(runs: runs)
        var points: [SlurmPoint] = [], completed = 0, onSlurm = 0, refused = false
        for (config, run) in planned {
            let label = "\(run.spec.name)/\(run.runName)"
            if config.contains(where: { $0 == "\t" || $0 == "\n" || $0 == "\r" }) {
                fail("\(config): the experiment file's path holds a tab or a line break, which a job array's task list cannot carry", hint: "rename the file")
            }
            do {
                if case .skip = try RunFolder.decide(runDirectory(run), label: label, resolvedConfig: run.spec.resolvedYAML()) {
                    completed += 1
                    continue
                }
            } catch {
                printError(error.description)
                refused = true
                continue
            }
            if let state = queued[label], state.live {
                print("\(label): already on Slurm, \(state.text); not submitted again")
                onSlurm += 1
                continue
            }
            points.append(SlurmPoint(config: config, runName: run.runName, label: label))
        }
        if refused { throw ExitCode(2) }
        guard !points.isEmpty else {
            print("Nothing to submit: \(completed) completed, \(onSlurm) queued or running on Slurm.")
            return
        }
        if dryRun {
            printTable(["would submit", "config"], points.map { [$0.label, $0.config] })
            return
        }
        do throws(SubmissionError) {
            let (job, folder) = try Slurm.submit(points, options: slurm, runs: runs, assignments: assignments, executable: ownExecutable())
            print(
                "Submitted \(points.count) point\(points.count == 1 ? "" : "s") as Slurm job array \(job) (tasks 0-\(points.count - 1)); "
                    + "skipped \(completed) completed and \(onSlurm) already on Slurm.")
            print("script: \(folder)/submit.sbatch\nlogs:   \(folder)/logs/\(job)_<task>.out\nwatch:  runner runs \(runs)")
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
    }
}

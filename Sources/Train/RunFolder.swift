import Files
import Foundation
import Spec

/// One run's folder under the runs folder, and its life: the lock that keeps a second runner
/// off it, the decision to start it, resume it, skip it or refuse it, and its summary. The CLI
/// parses arguments and prints; what happens to a run folder is decided here.
///
/// `lock` first (a --jobs child then sends its console to the run's console.log), `prepare`
/// next, `release` at the end.
public final class RunFolder {
    public let directory: String
    /// `experiment/run`, as the console and the table name it.
    public let label: String
    let lock: RunLock

    public var summaryPath: String { (directory as NSString).appendingPathComponent("summary.json") }
    public var configPath: String { (directory as NSString).appendingPathComponent("config.yaml") }

    /// Why a run is not trained now. `description` is the located message for stderr, `note` the
    /// table's short word.
    public enum Refusal: Error, CustomStringConvertible {
        /// Another runner process holds the run (its pid as its lock file says).
        case locked(directory: String, holder: String, message: String)
        /// The lock could not be taken (a link or not a regular file in its place, no permission).
        case lockFailed(String)
        case notAFolder(directory: String)
        case specChanged(configPath: String, label: String, differences: [String])

        public var description: String {
            switch self {
            case .locked(_, _, let message): message
            case .lockFailed(let message): message
            case .notAFolder(let directory):
                "\(directory): error: this run's folder is a file\nhint: move or delete it; runner keeps each run in a folder of that name"
            case .specChanged(let configPath, let label, let differences):
                "\(configPath): error: the spec of \(label) changed since it was started: \(differences.joined(separator: ", "))\nhint: run "
                    + "with --restart to train it again from scratch, or give the experiment another name:"
            }
        }

        public var note: String {
            switch self {
            case .locked(_, let holder, _): "locked by pid \(holder)"
            case .lockFailed: "lock error"
            case .notAFolder: "not a folder"
            case .specChanged: "spec changed"
            }
        }

        /// Whether another runner holds the run: that runner's to finish, not a failure.
        public var isLocked: Bool { if case .locked = self { true } else { false } }
    }

    /// What to do with a locked run folder.
    public enum Decision {
        /// Train: from scratch (no folder, or --restart removed it) or from the newest checkpoint.
        case train
        /// The run completed before: its summary.
        case skip(RunSummary)
    }

    /// Takes the run's lock (creating the runs folder as needed).
    public init(_ directory: String, label: String) throws(Refusal) {
        self.directory = directory
        self.label = label
        do { lock = try RunLock(directory) } catch let held as RunLock.Held {
            throw .locked(directory: directory, holder: held.holder, message: held.description)
        } catch {
            throw .lockFailed(
                (error as? FileError)?.description ?? "\(directory): error: \(error.localizedDescription)\nhint: check that the runs folder is writable")
        }
    }

    public func release() { lock.release() }

    /// Decides, under the lock: a folder that is a file is refused; with `restart` an existing
    /// run is removed and trained anew; otherwise a run whose resolved spec changed is refused
    /// (naming the keys), a completed one is skipped, anything else is trained (resuming).
    public func prepare(resolvedConfig: String, restart: Bool) throws(Refusal) -> Decision {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder) else { return .train }
        guard isFolder.boolValue else { throw .notAFolder(directory: directory) }
        if restart {
            try? FileManager.default.removeItem(atPath: directory)
            return .train
        }
        return try Self.decide(directory, label: label, resolvedConfig: resolvedConfig)
    }

    /// `prepare`'s decision without --restart and without the lock (nothing is written): what a
    /// runner started now would do with the run. `--slurm` asks it before submitting a point.
    public static func decide(_ directory: String, label: String, resolvedConfig: String) throws(Refusal) -> Decision {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isFolder) else { return .train }
        guard isFolder.boolValue else { throw .notAFolder(directory: directory) }
        let configPath = (directory as NSString).appendingPathComponent("config.yaml")
        if let existing = try? String(contentsOfFile: configPath, encoding: .utf8), existing != resolvedConfig {
            throw .specChanged(configPath: configPath, label: label, differences: ExperimentSpec.differingKeys(existing, resolvedConfig))
        }
        if let summary = RunFolder.summary(in: directory), summary.status == .completed { return .skip(summary) }
        return .train
    }

    /// Adds what a sweep varied to the finished run's summary.json (the HPARAMS comparison
    /// reads it from the event files; this keeps it beside the metrics too).
    public func record(varied: [(String, String)], in summary: RunSummary) -> RunSummary {
        guard !varied.isEmpty else { return summary }
        var summary = summary
        summary.varied = Dictionary(varied, uniquingKeysWith: { $1 })
        try? writeSummary(summary, to: summaryPath)
        return summary
    }

    /// A run folder's summary.json, if it holds a readable one.
    public static func summary(in directory: String) -> RunSummary? {
        let path = (directory as NSString).appendingPathComponent("summary.json")
        guard let data = try? FileLimits.read(path, cap: FileLimits.summary, kind: "summary") else { return nil }
        return try? JSONDecoder().decode(RunSummary.self, from: data)
    }

    /// "new", "completed (3 epochs)", "interrupted after 2 epochs (resumes)", ... from the files.
    public static func state(of directory: String) -> String {
        guard let summary = summary(in: directory) else {
            return FileManager.default.fileExists(atPath: directory) ? "started, no summary" : "new"
        }
        switch summary.status {
        case .completed: return "completed (\(summary.epochsCompleted) epochs)"
        case .running: return "stopped during epoch \(summary.epochsCompleted + 1) (resumes)"
        case .interrupted: return "interrupted after \(summary.epochsCompleted) epochs (resumes)"
        case .failed: return "failed (retries)"
        }
    }
}

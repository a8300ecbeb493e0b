import ArgumentParser
import Foundation
import Train

/// `runner runs [DIR]`: the table of runs from their summary files; with a column of Slurm's
/// view (squeue) where `--slurm` submissions to the folder have points queued or running.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List runs with their status and metrics.")

    @Argument(help: "The runs folder.")
    var directory = "runs"

    @Option(help: "Sort by: val_accuracy, val_loss, wall, name.")
    var sort = "name"

    func run() throws {
        guard ["val_accuracy", "val_loss", "wall", "name"].contains(sort) else {
            fail("--sort must be val_accuracy, val_loss, wall or name", hint: "for example --sort val_accuracy")
        }
        var summaries: [(String, RunSummary)] = []
        let experiments = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for experiment in experiments.sorted() {
            let folder = (directory as NSString).appendingPathComponent(experiment)
            for run in ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() {
                if let summary = RunFolder.summary(in: (folder as NSString).appendingPathComponent(run)) {
                    summaries.append(("\(experiment)/\(run)", summary))
                }
            }
        }
        switch sort {
        case "val_accuracy": summaries.sort { ($0.1.best?.validationAccuracy ?? -1) > ($1.1.best?.validationAccuracy ?? -1) }
        case "val_loss": summaries.sort { ($0.1.best?.validationLoss ?? .infinity) < ($1.1.best?.validationLoss ?? .infinity) }
        case "wall": summaries.sort { $0.1.wallSeconds < $1.1.wallSeconds }
        default: break
        }
        let queued = Slurm.queueStates(runs: directory)
        // Points Slurm holds that have not started yet have no summary: a row each all the same.
        let waiting = queued.keys.filter { label in !summaries.contains { $0.0 == label } }.sorted()
        guard !summaries.isEmpty || !waiting.isEmpty else { print("no runs under \(directory)"); return }
        let slurmHeader = queued.isEmpty ? [] : ["slurm"]
        printTable(
            ["run", "status", "epochs", "best val_acc", "best val_loss", "final val_acc", "wall"] + slurmHeader,
            summaries.map { name, s in
                [
                    name, s.status.rawValue, "\(s.epochsCompleted)/\(s.epochs)",
                    s.best.map { String(format: "%.2f%%", $0.validationAccuracy * 100) } ?? "-",
                    s.best.map { String(format: "%.4f", $0.validationLoss) } ?? "-",
                    s.final.map { String(format: "%.2f%%", $0.validationAccuracy * 100) } ?? "-",
                    String(format: "%.1f s", s.wallSeconds),
                ] + (queued.isEmpty ? [] : [queued[name]?.text ?? "-"])
            } + waiting.map { [$0, "not started", "-", "-", "-", "-", "-", queued[$0]!.text] })
    }
}

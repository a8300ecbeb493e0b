import ArgumentParser
import Data
import Files
import Foundation
import Kernels
import Plan
import Spec
import Train

/// `runner eval RUN_OR_CHECKPOINT`: loss, accuracy and confusion matrix of a run's best (or
/// given) checkpoint on a split.
struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "Evaluate a run's checkpoint on a data split.")

    @Argument(help: "A run directory (runs/NAME/RUN: its best checkpoint, else its newest) or a checkpoint file.")
    var target: String

    @Option(help: "test, validation or train.")
    var split = "test"

    @Option(help: "Threads (default: every core).")
    var threads: Int?

    func run() throws {
        guard ["test", "validation", "train"].contains(split) else { fail("--split must be test, validation or train, got '\(split)'", hint: "for example --split test") }
        let (experiment, checkpoint, file, recorded) = try loadRun(target)
        let data: Dataset
        do {
            // Normalised as training was: with the numbers the checkpoint records, else (older
            // checkpoints, and the splits carved from the training data) as `loadData` does.
            if split == "test", let convention = recorded {
                let test = try experiment.loadSplit("test", trainClasses: convention.classNames)
                data = convention.normalization.map { test.normalized(by: $0) } ?? test
            } else {
                let (train, validation) = try experiment.loadData()
                data = split == "test" ? try experiment.loadTest(like: train) : (split == "validation" ? validation : train)
            }
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        let plan = Plan(graph: experiment.graph, capacity: min(256, max(data.count, 1)), trainable: false,
                        workers: WorkerPool.workers(requested: threads ?? WorkerPool.defaultCount()).count, precision: experiment.precision)
        do { try Checkpoints.copyParameters(file, path: checkpoint, into: plan) } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        let result = Evaluation(plan, on: data)
        print("\(checkpoint) on the \(split) split of \(experiment.spec.data.dataset) (\(data.count) examples):")
        print(String(format: "loss %.4f  accuracy %.2f%%", result.loss, 100 * result.accuracy))
        print("confusion matrix (rows: true class, columns: predicted):")
        let names = data.classNames.map { String($0.prefix(6)) }
        printTable([""] + names, result.confusion.enumerated().map { [names[$0.offset]] + $0.element.map(String.init) })
    }
}

/// `runner runs [DIR]`: the table of runs from their summary files.
struct RunsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "runs", abstract: "List runs with their status and metrics.")

    @Argument(help: "The runs folder.")
    var directory = "runs"

    @Option(help: "Sort by: val_accuracy, val_loss, wall, name.")
    var sort = "name"

    func run() throws {
        guard ["val_accuracy", "val_loss", "wall", "name"].contains(sort) else { fail("--sort must be val_accuracy, val_loss, wall or name", hint: "for example --sort val_accuracy") }
        var summaries: [(String, RunSummary)] = []
        let experiments = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for experiment in experiments.sorted() {
            let folder = (directory as NSString).appendingPathComponent(experiment)
            for run in ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).sorted() {
                if let summary = readSummary(((folder as NSString).appendingPathComponent(run) as NSString).appendingPathComponent("summary.json")) {
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
        guard !summaries.isEmpty else { print("no runs under \(directory)"); return }
        printTable(["run", "status", "epochs", "best val_acc", "best val_loss", "final val_acc", "wall"], summaries.map { name, s in
            [name, s.status.rawValue, "\(s.epochsCompleted)/\(s.epochs)",
             s.best.map { String(format: "%.2f%%", $0.validationAccuracy * 100) } ?? "-",
             s.best.map { String(format: "%.4f", $0.validationLoss) } ?? "-",
             s.final.map { String(format: "%.2f%%", $0.validationAccuracy * 100) } ?? "-",
             String(format: "%.1f s", s.wallSeconds)]
        })
    }
}

/// A run directory (its best checkpoint, else its newest) or a checkpoint file → the run's
/// directory and the checkpoint's path; exits with a message when neither.
func resolveCheckpoint(_ target: String) -> (runDirectory: String, checkpoint: String) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) else {
        fail("\(target) does not exist", hint: "give a run directory such as runs/digits/default, or a checkpoint file")
    }
    let runDirectory: String, checkpoint: String
    if isDirectory.boolValue {
        runDirectory = target
        let summary = readSummary((target as NSString).appendingPathComponent("summary.json"))
        let folder = (target as NSString).appendingPathComponent("checkpoints")
        // summary.json is outside input too: only a checkpoint name (step-<N>.safetensors) is
        // joined to the folder, never a path.
        let best = summary?.bestCheckpoint.flatMap { Checkpoints.step(ofName: $0) == nil ? nil : (folder as NSString).appendingPathComponent($0) }
        guard let path = best ?? Checkpoints.list(target).last?.path else {
            fail("\(target) holds no checkpoint", hint: "train the run first")
        }
        checkpoint = path
    } else {
        checkpoint = target
        runDirectory = ((target as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
    }
    return (runDirectory, checkpoint)
}

/// The experiment a run was trained with (its config.yaml) and the checkpoint to use, read and
/// decoded (its recorded class names tell an image_folder run's class count without the folders).
/// The input convention it records is checked against the model (nil for older checkpoints).
func loadRun(_ target: String) throws -> (Experiment, checkpoint: String, file: SafeTensors, convention: InputConvention?) {
    let (runDirectory, checkpoint) = resolveCheckpoint(target)
    do {
        let file = try Checkpoints.read(checkpoint)
        let convention = try Checkpoints.inputConvention(file, path: checkpoint)
        let experiment = try Experiment.load(path: (runDirectory as NSString).appendingPathComponent("config.yaml"),
                                             classes: convention?.classNames.count)
        if let convention { try Checkpoints.check(convention, against: experiment.graph, path: checkpoint) }
        return (experiment, checkpoint, file, convention)
    } catch {
        printError("\(error)")
        throw ExitCode(2)
    }
}

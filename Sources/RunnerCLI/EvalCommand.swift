import ArgumentParser
import Datasets
import Foundation
import Kernels
import Plan
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

    @Option(help: "Test-time augmentation: none, flip or flip_translate (default: the spec's data.tta on the test split, else none).")
    var tta: String?

    @Flag(help: "One JSON object: checkpoint, split, examples, loss, accuracy, class names and the confusion matrix.")
    var json = false

    func run() throws {
        guard ["test", "validation", "train"].contains(split) else {
            fail("--split must be test, validation or train, got '\(split)'", hint: "for example --split test")
        }
        let views = testTimeAugmentation(tta)
        let (experiment, checkpoint, file, recorded) = try loadRun(target)
        let viewsUsed = views ?? (split == "test" ? experiment.spec.data.tta : .none)
        if viewsUsed != .none && experiment.graph.input.rank != 3 {
            fail("--tta needs a model whose input is an image, got \(experiment.graph.input)", hint: "omit --tta")
        }
        let data: Dataset
        do {
            // Normalised as training was: with the numbers the checkpoint records, else (older
            // checkpoints, and the splits carved from the training data) as `loadData` does.
            if split == "test", let convention = recorded {
                let test = try experiment.loadSplit(.test, trainClasses: convention.classNames)
                data = convention.normalization.map { test.normalized(by: $0) } ?? test
            } else {
                let (train, validation) = try experiment.loadData()
                data = split == "test" ? try experiment.loadTest(like: train) : (split == "validation" ? validation : train)
            }
        } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        let plan = Plan(
            graph: experiment.graph, capacity: min(256, max(data.count, 1)), trainable: false,
            workers: WorkerPool.workers(requested: threads ?? WorkerPool.defaultCount()).count, precision: experiment.precision)
        do { try Checkpoints.copyParameters(file, path: checkpoint, into: plan) } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        let result = Evaluation(plan, on: data, tta: viewsUsed)
        if json {
            printJSON(
                EvaluationReport(
                    checkpoint: checkpoint, split: split, dataset: experiment.spec.data.dataset, examples: data.count, tta: viewsUsed.rawValue,
                    loss: result.loss, accuracy: result.accuracy, classes: data.classNames, confusion: result.confusion))
            return
        }
        let averaged = viewsUsed == .none ? "" : ", averaging \(viewsUsed.views.count) views (\(viewsUsed.rawValue))"
        print("\(checkpoint) on the \(split) split of \(experiment.spec.data.dataset) (\(data.count) examples\(averaged)):")
        print(String(format: "loss %.4f  accuracy %.2f%%", result.loss, 100 * result.accuracy))
        print("confusion matrix (rows: true class, columns: predicted):")
        let names = data.classNames.map { String($0.prefix(6)) }
        printTable([""] + names, result.confusion.enumerated().map { [names[$0.offset]] + $0.element.map(String.init) })
    }
}

/// `eval --json`'s object. confusion[true class][predicted class], in the order of `classes`.
struct EvaluationReport: Encodable {
    var checkpoint: String
    var split: String
    var dataset: String
    var examples: Int
    var tta: String
    var loss: Double
    var accuracy: Double
    var classes: [String]
    var confusion: [[Int]]
}

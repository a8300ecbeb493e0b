import ArgumentParser
import Data
import Foundation
import Spec
import Train

/// `runner CONFIG...`: validates every config first (nothing is written for one that fails),
/// then trains each in turn.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Train every experiment given (the default verb).")

    @Argument(help: "Experiment files (YAML).")
    var configs: [String]

    @Option(help: "Folder that holds the runs.")
    var runs = "runs"

    @Option(help: "Threads for BLAS and kernels (default: the spec's train.threads, else every core).")
    var threads: Int?

    @Flag(help: "Train again even if the run has already completed (its files are replaced).")
    var restart = false

    func run() throws {
        // Validate everything before anything is written.
        var experiments: [Experiment] = []
        var invalid = false
        for path in configs {
            do {
                experiments.append(try Experiment.load(path: path))
            } catch {
                printError(error.description)
                invalid = true
            }
        }
        if invalid { throw ExitCode(2) }
        if let threads, threads < 1 {
            printError("error: --threads must be at least 1, got \(threads)\nhint: omit it to use every core")
            throw ExitCode(2)
        }

        var failed = 0
        for experiment in experiments {
            let runName = "default"
            let directory = ((runs as NSString).appendingPathComponent(experiment.spec.name) as NSString).appendingPathComponent(runName)
            let summaryPath = (directory as NSString).appendingPathComponent("summary.json")
            if !restart, let data = FileManager.default.contents(atPath: summaryPath),
               let summary = try? JSONDecoder().decode(RunSummary.self, from: data), summary.status == .completed {
                print("\(experiment.spec.name)/\(runName) already completed (\(directory)); skipping. Use --restart to train it again.")
                continue
            }
            let data: (train: Dataset, validation: Dataset)
            do {
                data = try experiment.loadData()
            } catch {
                printError(error.description)
                failed += 1
                continue
            }
            let trainer = Trainer(experiment: experiment, train: data.train, validation: data.validation, threads: threads)
            trainer.add(Console())
            do {
                let summary = try trainer.run(directory: directory, runName: runName)
                if summary.status != .completed { failed += 1 }
            } catch {
                printError("\(directory): error: \(error.localizedDescription)\nhint: check that the runs folder is writable and the disk has space")
                failed += 1
            }
        }
        if failed > 0 { throw ExitCode(1) }
    }
}

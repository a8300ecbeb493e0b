import ArgumentParser
import Foundation
import Kernels

/// `runner CONFIG...` trains; `runner check`, `runner bench` and `runner spec` are the other verbs.
@main
struct Runner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runner",
        abstract: "Train neural networks described in YAML, on the CPU.",
        subcommands: [
            TrainCommand.self, CheckCommand.self, EvalCommand.self, PredictCommand.self, ExportCommand.self, RunsCommand.self, BenchCommand.self,
            SpecCommand.self, SchemaCommand.self,
        ],
        defaultSubcommand: TrainCommand.self)

    /// Refuses a bad RUNNER_CPU before any verb runs: every kernel would otherwise silently
    /// use another level than the one asked for.
    static func main() {
        if let error = CPU.environmentError {
            printError(error.description)
            Foundation.exit(2)
        }
        main(nil)
    }
}

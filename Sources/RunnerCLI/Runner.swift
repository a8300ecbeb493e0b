import ArgumentParser

/// `runner CONFIG...` trains; `runner check`, `runner bench` and `runner spec` are the other verbs.
@main
struct Runner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runner",
        abstract: "Train neural networks described in YAML, on the CPU.",
        subcommands: [TrainCommand.self, CheckCommand.self, EvalCommand.self, PredictCommand.self, RunsCommand.self, BenchCommand.self, SpecCommand.self],
        defaultSubcommand: TrainCommand.self)
}

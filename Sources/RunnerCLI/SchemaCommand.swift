import ArgumentParser
import Spec

/// `runner schema [--model]`: the JSON Schema of experiment (or model) files, for editors and
/// validators. schema/experiment.json and schema/model.json are committed copies (a test keeps
/// them equal to this output), which the shipped configs name in their modeline.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema", abstract: "Print the JSON Schema (draft 2020-12) of experiment files, or with --model of model files.")

    @Flag(help: "The schema of a model file (input and layers) instead of an experiment file.")
    var model = false

    func run() { print((model ? SpecSchema.model() : SpecSchema.experiment()).printed()) }
}

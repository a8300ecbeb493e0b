import ArgumentParser
import Datasets
import Layers
import Spec

/// `runner spec`: the spec reference, every key with its default.
struct SpecCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "spec", abstract: "Print the spec reference: every key and its default.")

    func run() { print(specReference()) }
}

/// The reference, generated from the declarations the readers use (Spec/Reference.swift).
func specReference() -> String { SpecReference.text() }

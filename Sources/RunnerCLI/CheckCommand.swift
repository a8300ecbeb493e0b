import ArgumentParser
import Foundation
import Graph
import Kernels
import Plan
import Spec
import Train

/// `runner check CONFIG...`: validates, then prints the layer table and the memory plan.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Validate experiments and print their layer tables and memory plans.")

    @Argument(help: "Experiment files (YAML).")
    var configs: [String]

    @Flag(help: "List every slot of the memory plan.")
    var slots = false

    func run() throws {
        var invalid = false
        for path in configs {
            do {
                let experiment = try Experiment.load(path: path)
                printLayerTable(experiment, path: path)
            } catch {
                printError(error.description)
                invalid = true
            }
        }
        if invalid { throw ExitCode(2) }
    }

    func printLayerTable(_ experiment: Experiment, path: String) {
        let graph = experiment.graph
        print(
            "\(path): \(experiment.spec.name) — \(grouped(graph.parameterCount)) parameters, "
                + String(format: "%.2f MFLOP", Double(graph.flopsPerExample) / 1e6) + " forward per example")
        print(
            "  precision: \(experiment.precision.rawValue)" + (experiment.spec.train.precision == .auto ? " (auto)" : "")
                + " on this machine, CPU level \(CPU.level)" + (CPU.level < CPU.detected ? " (\(CPU.variable); detected \(CPU.detected))" : ""))
        let rows: [[String]] =
            [["#", "name", "kind", "inputs", "output", "parameters", "FLOPs"], ["", "input", "", "", graph.input.description, "", ""]]
            + graph.nodes.enumerated().map { index, node in
                let inputs = node.inputs.map { source -> String in
                    if case .node(let i) = source { return graph.nodes[i].name }
                    return "input"
                }.joined(separator: ",")
                return [String(index + 1), node.name, node.kind, inputs, node.outputShape.description, grouped(node.parameterCount), grouped(node.flops)]
            }
        let widths = (0 ..< rows[0].count).map { column in rows.map { $0[column].count }.max()! }
        for row in rows {
            let cells = row.enumerated().map { column, cell in
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return column >= 5 ? pad + cell : cell + pad
            }
            print("  " + cells.joined(separator: "  "))
        }
        let plan = Plan(graph: graph, capacity: experiment.spec.train.batchSize, trainable: true)
        let floatBytes = MemoryLayout<Float>.size
        let optimizerStates = { if case .adam = experiment.spec.train.optimizer { 2 } else { 1 } }()
        print(
            "  memory plan at batch \(plan.capacity): activations \(mib(plan.arena.count * floatBytes)) in one arena "
                + "(\(mib(plan.naiveArenaCount * floatBytes)) if every tensor had its own, "
                + String(format: "%.0f%% saved", 100 * (1 - Double(plan.arena.count) / Double(max(plan.naiveArenaCount, 1)))) + "); "
                + "parameters \(mib(plan.parameters.count * floatBytes)), gradients \(mib(plan.gradients.count * floatBytes)), "
                + "optimizer state \(mib(optimizerStates * plan.parameters.count * floatBytes)), state \(mib(plan.state.count * floatBytes))")
        if slots {
            for slot in plan.slots.sorted(by: { $0.offset < $1.offset }) { print("    " + slot.description) }
        }
    }
}

func mib(_ bytes: Int) -> String { String(format: "%.1f MiB", Double(bytes) / 1_048_576) }

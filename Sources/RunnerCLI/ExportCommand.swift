import ArgumentParser
import Datasets
import Files
import Foundation
import Kernels
import ONNX
import Plan
import Train

/// `runner export RUN_OR_CHECKPOINT --format onnx [-o FILE]`: the trained network as an ONNX
/// model for inference elsewhere (Sources/ONNX/ONNXExport.swift says what the graph holds).
struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Write a trained network as an ONNX model (opset 17) for onnxruntime and other runtimes.")

    @Argument(help: "A run directory (runs/NAME/RUN: its best checkpoint, else its newest) or a checkpoint file.")
    var target: String

    @Option(help: "The model format: onnx.")
    var format = "onnx"

    @Option(name: [.customShort("o"), .customLong("output")], help: "Where to write the model (default: beside the checkpoint, step-N.onnx).")
    var output: String?

    func run() throws {
        guard format == "onnx" else { fail("--format must be onnx, got '\(format)'", hint: "runner export RUN --format onnx") }
        let (experiment, checkpoint, file, recorded) = try loadRun(target)
        let path = output ?? ((checkpoint as NSString).deletingPathExtension + ".onnx")
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            fail("-o \(path) is a directory", hint: "give a file name, for example -o \((path as NSString).appendingPathComponent("model.onnx"))")
        }
        let plan = Plan(graph: experiment.graph, capacity: 1, trainable: false, workers: 1, precision: .fp32)
        let convention: InputConvention
        let model: Data
        do {
            try Checkpoints.copyParameters(file, path: checkpoint, into: plan)
            convention = try recorded ?? trainingConvention(experiment)
            let values = Dictionary(uniqueKeysWithValues: plan.parameterTable.map { ($0.name, Array(plan.view(of: $0))) })
            var metadata = [("runner_checkpoint", (checkpoint as NSString).lastPathComponent)]
            if let hash = file.metadata["spec_hash"] { metadata.append(("runner_spec_hash", hash)) }
            model = try ONNXExport.model(
                experiment.graph, parameters: values, classNames: convention.classNames, mean: convention.normalization?.mean,
                std: convention.normalization?.std, metadata: metadata)
            try writeDurably(model, to: path)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        let graph = experiment.graph, input = graph.input.dimensions.map(String.init).joined(separator: ", ")
        let size = FileLimits.byteCount(model.count)
        print("Wrote \(path) (\(size)): ONNX opset \(ONNXExport.opset), \(graph.nodes.count) layers, \(graph.parameterCount) parameters")
        print(
            "  input  pixels [batch, \(input)] float32 in [0, 1]"
                + (graph.input.rank == 3 ? " NHWC" : "") + (convention.normalization == nil ? "" : ", normalised inside the graph (Sub, Mul)"))
        print(
            "  output probabilities, logits [batch, \(graph.outputShape.count)]: \(convention.classNames.prefix(10).joined(separator: ", "))"
                + (convention.classNames.count > 10 ? ", ..." : ""))
        if experiment.precision != .fp32 {
            print("  the run computed its products in \(experiment.precision.rawValue); the ONNX model computes in float32 with the same weights")
        }
    }
}

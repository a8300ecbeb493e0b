import Foundation
import Graph
import Spec
import SwiftProtobuf
import Tensor

/// A trained network as an ONNX model (opset 17, IR version 8) for inference elsewhere
/// (onnxruntime, OpenCV's dnn, TensorRT...).
///
/// The graph takes what `runner predict` hands the network before normalising: `pixels`, float32
/// NHWC [batch, H, W, C] in [0, 1] (RGB for colour images), with a symbolic batch dimension.
/// The training data's normalisation recorded in the checkpoint follows as explicit nodes,
/// y = (x − mean) · (1 / std) per channel, computed as runner computes it. It is not folded into
/// the first layer: with zero padding a fold is not exact at the borders (a padded zero would
/// stand for the mean rather than for zero), and explicit nodes keep the weights as trained.
/// Images then turn NCHW, ONNX's layout for Conv and pooling. Outputs: `probabilities`
/// (softmax over the classes) and `logits`. Dropout is the identity, batchnorm a
/// BatchNormalization with the running statistics; test-time augmentation is not part of it.
/// Metadata: `class_names` (JSON array, label order), `normalization`, `input`, and what the
/// caller adds (the checkpoint, the spec hash).
public enum ONNXExport {
    public static let opset = 17
    public static let irVersion = 8
    /// The layer kinds the exporter translates (every registered kind; a test keeps it so).
    public static var exportedKinds: [String] { LayerExporter.exportedKinds }

    /// The serialised ModelProto. `parameters` holds each parameter's values by checkpoint name
    /// (`conv1/weight`) as runner holds them; `mean` and `std` (one per input channel, or none)
    /// are the recorded normalisation. A layer that cannot be exported throws its located error.
    public static func model(
        _ graph: Graph, parameters: [String: [Float]], classNames: [String], mean: [Float]?, std: [Float]?, metadata: [(String, String)]
    ) throws(SpecError) -> Data {
        // Every tensor the layers will read, present and of its size (a translation indexes them).
        for node in graph.nodes {
            for spec in node.parameters where parameters["\(node.name)/\(spec.name)"]?.count != spec.count {
                throw SpecError(
                    node.location, "layer '\(node.name)' needs \(node.name)/\(spec.name) of \(spec.count) values to be exported, and was not given it",
                    hint: "export from a checkpoint of a run trained with this model")
            }
        }
        var exporter = LayerExporter(parameters: parameters)
        let input = graph.input
        exporter.builder.addInput(
            GraphBuilder.value(
                "pixels", batch: "batch", dimensions: input.dimensions,
                doc: "NHWC float32 in [0, 1], as runner predict reads an image before normalising it"))
        var network = "pixels"
        if let mean, let std {
            let channels = [mean.count]
            let meanValue = exporter.builder.constant("normalization/mean", shape: channels, mean)
            let scale = exporter.builder.constant("normalization/inverse_std", shape: channels, std.map { 1 / $0 })
            let centred = exporter.builder.node("Sub", [network, meanValue], name: "normalization/centred")
            network = exporter.builder.node("Mul", [centred, scale], name: "normalization/scaled")
        }
        if input.rank == 3 {
            network = exporter.builder.node("Transpose", [network], name: "network_input", [Attribute.ints("perm", [0, 3, 1, 2])])
        }

        let reserved: Set = ["pixels", "network_input", "logits", "probabilities"]
        var outputs: [ExportedValue] = []
        for node in graph.nodes {
            let inputs = node.inputs.map { source -> ExportedValue in
                switch source {
                case .networkInput: ExportedValue(name: network, shape: input)
                case .node(let producer): outputs[producer]
                }
            }
            let name = reserved.contains(node.name) ? "\(node.name)_output" : node.name
            outputs.append(ExportedValue(name: try exporter.export(node, inputs, outputName: name), shape: node.outputShape))
        }

        let classes = graph.outputShape.count
        let logits = exporter.builder.node("Identity", [outputs[graph.output].name], name: "logits")
        _ = exporter.builder.node("Softmax", [logits], name: "probabilities", [Attribute.int("axis", 1)])
        exporter.builder.addOutput(
            GraphBuilder.value("probabilities", batch: "batch", dimensions: [classes], doc: "softmax over the classes, in class_names order"))
        exporter.builder.addOutput(GraphBuilder.value("logits", batch: "batch", dimensions: [classes], doc: "the last layer's output"))

        var model = Onnx_ModelProto()
        model.irVersion = Int64(irVersion)
        var opsetImport = Onnx_OperatorSetIdProto()
        opsetImport.domain = ""
        opsetImport.version = Int64(opset)
        model.opsetImport = [opsetImport]
        model.producerName = "runner"
        model.graph = exporter.builder.graph
        model.graph.name = "runner"
        model.docString = "Classifier exported by runner: pixels NHWC in [0, 1] -> probabilities"
        var properties = [("class_names", jsonArray(classNames)), ("input", "NHWC float32 pixels in [0, 1], RGB for colour images")]
        if let mean, let std {
            properties.append(
                ("normalization", "{\"mean\": \(jsonArray(mean.map { "\($0)" }, quoted: false)), \"std\": \(jsonArray(std.map { "\($0)" }, quoted: false))}"))
        }
        model.metadataProps = (properties + metadata).map { key, value in
            var entry = Onnx_StringStringEntryProto()
            entry.key = key
            entry.value = value
            return entry
        }
        do { return try model.serializedBytes() } catch {
            // Serialising a message built here cannot fail short of memory; say where if it does.
            throw SpecError(graph.nodes[graph.output].location, "the ONNX model could not be serialised: \(error)", hint: "report this as a bug")
        }
    }

    /// A JSON array of strings (escaped by JSONEncoder) or of numbers written as given.
    static func jsonArray(_ items: [String], quoted: Bool = true) -> String {
        guard quoted else { return "[" + items.joined(separator: ", ") + "]" }
        let data = (try? JSONEncoder().encode(items)) ?? Data("[]".utf8)
        return String(decoding: data, as: UTF8.self)
    }
}

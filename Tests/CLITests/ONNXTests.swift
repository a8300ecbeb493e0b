import Foundation
import Graph
import Layers
import ONNX
import Spec
import Tensor
import Testing
import Train

/// Python from the test venv with its stdout and stderr (onnx, onnxruntime, Pillow).
func pythonOutput(_ script: String, _ arguments: [String]) throws -> Outcome {
    let python = repository.appendingPathComponent(".venv-test/bin/python")
    try #require(FileManager.default.isExecutableFile(atPath: python.path), "run scripts/test.sh: it makes .venv-test with onnx and onnxruntime")
    let process = Process()
    process.executableURL = python
    process.arguments = ["-c", script] + arguments
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let out = output.fileHandleForReading.readDataToEndOfFile(), err = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Outcome(status: process.terminationStatus, output: String(decoding: out, as: UTF8.self), error: String(decoding: err, as: UTF8.self))
}

@Suite("ONNX export", .serialized)
struct ONNXTests {
    /// Ten classes of small RGB (or grayscale) PNGs at exactly the model's size, so that predict
    /// reads each as bytes / 255 with no resizing and Python can hand onnxruntime the same floats.
    static let makeImages = """
        import sys, os, random
        from PIL import Image
        root, size, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
        random.seed(5)
        for label in range(10):
            os.makedirs(f"{root}/train/c{label}", exist_ok=True)
            for i in range(4):
                image = Image.new("RGB", (size, size))
                for y in range(size):
                    for x in range(size):
                        v = random.randint(0, 255)
                        image.putpixel((x, y), (v, (v * (label + 1)) % 256, (x * 16 + label * 25) % 256))
                image.convert(mode).save(f"{root}/train/c{label}/{i}.png")
        """

    /// Checks a model with ONNX's full checker, runs every image through onnxruntime in one
    /// batch (the batch dimension is symbolic) and compares with `runner predict --json`'s
    /// probabilities; prints the largest absolute difference, exits 1 above the tolerance.
    static let compare = """
        import sys, json, numpy as np, onnx, onnxruntime
        from PIL import Image
        model_path, predictions_path, tolerance = sys.argv[1], sys.argv[2], float(sys.argv[3])
        model = onnx.load(model_path)
        onnx.checker.check_model(model, full_check=True)
        names = json.loads({p.key: p.value for p in model.metadata_props}["class_names"])
        predictions = [json.loads(line) for line in open(predictions_path)]
        session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
        channels = session.get_inputs()[0].shape[3]
        pixels = []
        for p in predictions:
            image = np.asarray(Image.open(p["path"]).convert("RGB" if channels == 3 else "L"), dtype=np.float32) / 255
            pixels.append(image.reshape(image.shape[0], image.shape[1], channels))
        probabilities, logits = session.run(["probabilities", "logits"], {"pixels": np.stack(pixels)})
        worst = 0.0
        for row, p in zip(probabilities, predictions):
            for c in p["classes"]:
                assert names[c["index"]] == c["class"], (names, c)
                worst = max(worst, abs(float(row[c["index"]]) - c["probability"]))
            assert names[int(np.argmax(row))] == p["predicted"] or worst > tolerance, (row, p)
        print(f"{len(predictions)} images, {len(model.graph.node)} nodes, max |onnxruntime - runner| = {worst:.3g}")
        sys.exit(0 if worst <= tolerance else 1)
        """

    /// Trains `spec` (fp32: the comparison is of the same arithmetic), exports the run and
    /// compares onnxruntime with predict on every training image.
    func exportAndCompare(_ name: String, spec: String, size: Int, mode: String, models: [String] = []) throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        #expect(try python(Self.makeImages, [scratch.path, String(size), mode]) == 0)
        for model in models {
            try FileManager.default.copyItem(
                at: repository.appendingPathComponent("configs/models/\(model)"), to: scratch.appendingPathComponent(model))
        }
        let config = scratch.appendingPathComponent("\(name).yaml")
        try spec.replacingOccurrences(of: "ROOT", with: scratch.path).write(to: config, atomically: true, encoding: .utf8)
        let runs = scratch.appendingPathComponent("runs").path
        let trained = try runner([config.path, "--runs", runs])
        try #require(trained.status == 0, "\(trained.output)\(trained.error)")
        let run = "\(runs)/\(name)/default", model = scratch.appendingPathComponent("\(name).onnx").path
        let exported = try runner(["export", run, "--format", "onnx", "-o", model])
        try #require(exported.status == 0, "\(exported.error)")
        #expect(exported.output.contains("Wrote \(model)"))
        let intoFolder = try runner(["export", run, "-o", scratch.path])
        #expect(intoFolder.status == 2)
        #expect(intoFolder.error == "error: -o \(scratch.path) is a directory\nhint: give a file name, for example -o \(scratch.path)/model.onnx\n")
        let images = try FileManager.default.subpathsOfDirectory(atPath: scratch.path + "/train").filter { $0.hasSuffix(".png") }.sorted()
        let predicted = try runner(["predict", run, "--json", "--tta", "none"] + images.map { scratch.path + "/train/" + $0 })
        try #require(predicted.status == 0, "\(predicted.error)")
        let predictions = scratch.appendingPathComponent("predictions.jsonl")
        try predicted.output.write(to: predictions, atomically: true, encoding: .utf8)
        let compared = try pythonOutput(Self.compare, [model, predictions.path, "1e-5"])
        print("ONNX \(name): \(compared.output)")
        #expect(compared.status == 0, "\(compared.output)\(compared.error)")
    }

    @Test("the seed model exports; onnxruntime's probabilities equal predict's within 1e-5")
    func seedModel() throws {
        try exportAndCompare(
            "seed",
            spec: """
                name: seed
                seed: 4
                model: seed_cnn.yaml
                data: {dataset: image_folder, root: ROOT/train, validation: 4, normalize: auto}
                train: {epochs: 2, batch_size: 8, precision: fp32, optimizer: {adam: {lr: 1.0e-3}}}
                """, size: 32, mode: "RGB", models: ["seed_cnn.yaml"])
    }

    @Test("a residual, concat and batchnorm network with every other kind exports and agrees with predict")
    func everyKind() throws {
        // Even input, stride 2 and SAME padding (asymmetric pads), padded max and average
        // pooling (padding cells not counted), a residual add, a concat of two branches,
        // batchnorm on images and on vectors, GELU fused and alone, scale, dropout.
        try exportAndCompare(
            "kinds",
            spec: """
                name: kinds
                seed: 9
                model:
                  input: [16, 16, 3]
                  layers:
                    - conv: {name: stem, filters: 8, kernel: 3, stride: 2, activation: relu}
                    - batchnorm: {}
                    - conv: {filters: 8, kernel: 3, activation: gelu, use_bias: false}
                    - add: {name: residual, inputs: [stem, conv2]}
                    - maxpool: {name: branch_a, size: 3, stride: 2, padding: same, inputs: [residual]}
                    - avgpool: {name: branch_b, size: 3, stride: 2, padding: same, inputs: [residual]}
                    - concat: {inputs: [branch_a, branch_b]}
                    - gelu: {}
                    - conv: {filters: 12, kernel: 2, padding: 1}
                    - relu: {}
                    - global_avgpool: {}
                    - dense: {units: 16, activation: gelu}
                    - batchnorm: {scale: false}
                    - dropout: {rate: 0.2}
                    - dense: {units: 10}
                    - scale: {factor: 0.5}
                data: {dataset: image_folder, root: ROOT/train, validation: 4, normalize: auto}
                train: {epochs: 3, batch_size: 8, precision: fp32, optimizer: {adam: {lr: 1.0e-2}}}
                """, size: 16, mode: "RGB")
    }

    @Test("the digits demo, trained on digits, exports and agrees with predict on 8×8 grayscale images")
    func digits() throws {
        let spec = try String(contentsOf: repository.appendingPathComponent("configs/digits.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "epochs: 30", with: "epochs: 2\n  precision: fp32")
        try exportAndCompare("digits", spec: spec, size: 8, mode: "L")
    }
}

/// A kind the exporter has never heard of (registered nowhere): stands for a kind added to
/// runner without an ONNX translation.
struct Unexportable: ExampleWise {
    static let kind = "unexportable"
    static let summary = "a test kind"
    static let gradientCheckCases = [GradientCheckCase(inputs: [[2]])]
    func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { inputs[0] }
    func forward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {}
    func backward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {}
}

@Suite("ONNX export refusals")
struct ONNXRefusalTests {
    @Test("a layer kind without a translation is refused at its line, named with its kind")
    func unknownKind() throws {
        let experiment = try Experiment.load(path: repository.appendingPathComponent("configs/digits.yaml").path)
        var graph = experiment.graph
        let dense = try #require(graph.nodes.firstIndex { $0.kind == "dense" })
        graph.nodes[dense].layer = Unexportable()
        graph.nodes[dense].kind = Unexportable.kind
        // Parameters of the right sizes (their values do not matter here).
        var parameters: [String: [Float]] = [:]
        for node in graph.nodes {
            for spec in node.parameters { parameters["\(node.name)/\(spec.name)"] = [Float](repeating: 0.5, count: spec.count) }
        }
        let missing = try #require(throws: SpecError.self) {
            _ = try ONNXExport.model(experiment.graph, parameters: [:], classNames: ["a"], mean: nil, std: nil, metadata: [])
        }
        #expect(missing.message == "layer 'conv1' needs conv1/weight of 288 values to be exported, and was not given it")
        #expect(try ONNXExport.model(experiment.graph, parameters: parameters, classNames: ["a"], mean: nil, std: nil, metadata: []).count > 600_000)
        #expect(throws: SpecError.self) { _ = try ONNXExport.model(graph, parameters: parameters, classNames: ["a"], mean: nil, std: nil, metadata: []) }
        do {
            _ = try ONNXExport.model(graph, parameters: parameters, classNames: ["a"], mean: nil, std: nil, metadata: [])
        } catch {
            #expect(error.location == graph.nodes[dense].location)
            #expect(error.location.line == 14)  // configs/digits.yaml: "- dense: {units: 128, ...}"
            #expect(error.message == "layer 'dense1' (unexportable) cannot be exported to ONNX: runner has no ONNX translation for unexportable")
            #expect(error.hint.hasPrefix("runner exports add, avgpool, batchnorm, concat, conv, dense, dropout, flatten"))
        }
    }

    @Test("every registered kind has a translation")
    func everyKindExports() {
        #expect(ONNXExport.exportedKinds == LayerRegistry.names)
    }

    @Test("bad flags: an unknown format, an output that is a directory, a missing run")
    func flags() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let format = try runner(["export", scratch.path, "--format", "tflite"])
        #expect(format.status == 2)
        #expect(format.error == "error: --format must be onnx, got 'tflite'\nhint: runner export RUN --format onnx\n")
        let missing = try runner(["export", scratch.path + "/nothing"])
        #expect(missing.status == 2)
        #expect(missing.error.hasPrefix("error: \(scratch.path)/nothing does not exist"))
    }
}

import Foundation
import Kernels
import Layers
import SpecCorpus
import Testing

let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

/// The `runner` binary built beside this test bundle.
let runnerBinary: URL = {
    var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    if directory.path.hasSuffix(".xctest/Contents/MacOS") {
        directory = directory.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }
    return directory.appendingPathComponent("runner")
}()

struct Outcome {
    var status: Int32
    var output: String
    var error: String
}

/// Runs the binary; `environment` adds to (or, with nil values, removes from) the test's own.
func runner(_ arguments: [String], in directory: URL = repository, environment: [String: String?] = [:]) throws -> Outcome {
    let process = Process()
    process.executableURL = runnerBinary
    process.arguments = arguments
    if !environment.isEmpty {
        var merged = ProcessInfo.processInfo.environment
        for (key, value) in environment { merged[key] = value }
        process.environment = merged
    }
    process.currentDirectoryURL = directory
    let output = Pipe(), error = Pipe()
    process.standardOutput = output
    process.standardError = error
    try process.run()
    let outData = output.fileHandleForReading.readDataToEndOfFile()
    let errData = error.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Outcome(status: process.terminationStatus, output: String(decoding: outData, as: UTF8.self), error: String(decoding: errData, as: UTF8.self))
}

func scratchDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("runner-cli-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}

@Suite("The runner command", .serialized)
struct CLITests {
    @Test("check prints the seed model's table: 3,247,422 parameters and the tutorial's shapes")
    func checkSeed() throws {
        let result = try runner(["check", "configs/cifar10_seed.yaml"])
        #expect(result.status == 0)
        #expect(result.output.contains("3,247,422 parameters"))
        #expect(result.output.contains("91.83 MFLOP"))
        let shapes = ["32×32×32", "32×32×64", "16×16×64", "16×16×128", "8×8×128", "4×4×128", "2048", "1500", "10"]
        var rest = Substring(result.output)
        for shape in shapes {
            let range = try #require(rest.range(of: " \(shape) "), "missing \(shape) in order")
            rest = rest[range.upperBound...]
        }
        #expect(result.output.contains("memory plan at batch 128"))
    }

    @Test("a malformed spec: exit 2, a located error with a hint, nothing written")
    func malformed() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let spec = try String(contentsOf: repository.appendingPathComponent("configs/xo.yaml"), encoding: .utf8)
            .replacingOccurrences(of: "{filters: 8,", with: "{filtres: 8,")
        try spec.write(to: directory.appendingPathComponent("bad.yaml"), atomically: true, encoding: .utf8)
        let result = try runner(["bad.yaml", "--runs", "out"], in: directory)
        #expect(result.status == 2)
        #expect(result.error.hasPrefix("bad.yaml:8:17: error: unknown key 'filtres' in conv\nhint: did you mean 'filters'?"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path))
    }

    @Test("one bad file among good ones: nothing is trained, nothing written")
    func oneBadStopsAll() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "name: [".write(to: directory.appendingPathComponent("broken.yaml"), atomically: true, encoding: .utf8)
        let result = try runner([repository.appendingPathComponent("configs/xo.yaml").path, "broken.yaml", "--runs", "out"], in: directory)
        #expect(result.status == 2)
        #expect(result.error.contains("broken.yaml:2:1: error: YAML syntax error"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path))
    }

    @Test("a missing file and a bad flag are errors, not crashes")
    func badInputs() throws {
        let missing = try runner(["check", "no/such.yaml"])
        #expect(missing.status == 2)
        #expect(missing.error.hasPrefix("no/such.yaml:1:1: error: cannot read the spec: No such file or directory"))
        let flag = try runner(["configs/xo.yaml", "--threads", "0", "--runs", "/nonexistent/never"])
        #expect(flag.status == 2)
        #expect(flag.error.contains("--threads must be at least 1"))
        let unknown = try runner(["configs/xo.yaml", "--thread", "2"])
        #expect(unknown.status != 0)
    }

    @Test("train writes config.yaml and summary.json; a second invocation skips the finished run")
    func trainAndSkip() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let runs = directory.appendingPathComponent("runs").path
        let first = try runner(["configs/xo.yaml", "--runs", runs, "--threads", "1"])
        #expect(first.status == 0, "\(first.error)")
        #expect(first.output.contains("Global step: "))
        #expect(first.output.contains("Epoch 10 - loss"))
        #expect(first.output.contains("Done xo/default: final val_acc 100.00%"))
        // Time spent and left: on progress lines for the epoch and the run, on epoch lines for the
        // run; the last epoch has nothing left.
        let clock = "[0-9]+:[0-9]{2}(:[0-9]{2})?"
        #expect(first.output.range(of: #" - epoch \#(clock) \(\#(clock) left\) - run \#(clock) \(\#(clock) left\)"#, options: .regularExpression) != nil)
        #expect(first.output.range(of: #"Epoch 3 - .* - run \#(clock) \(\#(clock) left\)"#, options: .regularExpression) != nil)
        #expect(first.output.range(of: #"Epoch 10 - .* - run \#(clock) \(0:00 left\)"#, options: .regularExpression) != nil)
        let run = URL(fileURLWithPath: runs).appendingPathComponent("xo/default")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("summary.json"))) as? [String: Any]
        #expect(summary?["status"] as? String == "completed")
        #expect(FileManager.default.fileExists(atPath: run.appendingPathComponent("config.yaml").path))
        let second = try runner(["configs/xo.yaml", "--runs", runs])
        #expect(second.status == 0)
        #expect(second.output.contains("already completed"))
    }

    @Test("spec prints every layer kind and the defaults")
    func specReference() throws {
        let result = try runner(["spec"])
        #expect(result.status == 0)
        for kind in LayerRegistry.names {
            #expect(result.output.contains("\n\(kind): "), "\(kind) missing")
            for option in LayerRegistry.kind(named: kind)!.optionKeys { #expect(result.output.contains(option.key), "\(kind).\(option.key) missing") }
        }
        #expect(result.output.contains("batch_size: 32"))
    }

    @Test(
        "bench runs the spec's model and prints its per-layer table and a RESULT line, in each precision",
        arguments: Precision.allCases.filter(\.isAvailable).map(\.rawValue))
    func bench(precision: String) throws {
        let result = try runner(["bench", "configs/digits.yaml", "--steps", "2", "--warmup", "1", "--repeats", "1", "--precision", precision, "--json"])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("conv1            conv"))
        let line = try #require(result.output.split(separator: "\n").first { $0.hasPrefix("RESULT {") })
        let json = try JSONSerialization.jsonObject(with: Data(line.dropFirst("RESULT ".count).utf8)) as? [String: Any]
        #expect((json?["train_img_s"] as? Double ?? 0) > 0 && (json?["infer_img_s"] as? Double ?? 0) > 0)
        #expect(json?["precision"] as? String == precision)
        #expect(json?["cpu_level"] as? String == CPU.level.description)
        let wrong = try runner(["bench", "configs/digits.yaml", "--precision", "fp16"])
        #expect(wrong.status == 2 && wrong.error.contains("--precision must be one of auto, fp32, bf16, got 'fp16'"))
    }

    @Test("a file whose name is not a usable run name (`...yaml` → `..`) is refused at the file, nothing written beside the runs folder")
    func fileNameRunName() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        try "model: {input: [8, 8, 1], layers: [{flatten: {}}, {dense: {units: 10}}]}\ndata: {dataset: digits}\n"
            .write(to: directory.appendingPathComponent("...yaml"), atomically: true, encoding: .utf8)
        let result = try runner(["...yaml", "--runs", "out/runs"], in: directory)
        #expect(result.status == 2)
        #expect(result.error.hasPrefix("...yaml:1:1: error: the file name gives the run name '..', which cannot name a run directory"), "\(result.error)")
        #expect(result.error.contains("hint: add a name: to the file"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["...yaml"])
    }

    @Test("the README's spec reference is exactly what `runner spec` prints")
    func readmeReference() throws {
        let readme = try String(contentsOf: repository.appendingPathComponent("README.md"), encoding: .utf8)
        let marker = "The full reference, as `runner spec` prints it:\n\n```\n"
        let start = try #require(readme.range(of: marker))
        let end = try #require(readme.range(of: "\n```", range: start.upperBound ..< readme.endIndex))
        let printed = try runner(["spec"]).output
        #expect(
            String(readme[start.upperBound ..< end.lowerBound]) + "\n" == printed,
            "the README's spec reference is out of date: run scripts/update-spec-reference.sh")
    }

    @Test("every malformed spec in the corpus: exit 2, its exact located message, nothing written")
    func corpus() throws {
        for testCase in malformedCases {
            let directory = try scratchDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            for (name, text) in testCase.extra { try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8) }
            try testCase.yaml.write(to: directory.appendingPathComponent("x.yaml"), atomically: true, encoding: .utf8)
            let result = try runner(["x.yaml", "--runs", "out"], in: directory)
            #expect(result.status == 2, "\(testCase.what)")
            let firstLine = result.error.split(separator: "\n").first.map(String.init) ?? ""
            let relative = firstLine.replacingOccurrences(of: directory.path + "/", with: "")
            #expect(relative.hasPrefix(testCase.expected), "\(testCase.what): \(firstLine)")
            #expect(result.error.contains("\nhint: \(testCase.hint)"), "\(testCase.what)")
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path), "\(testCase.what) wrote runs/")
        }
    }
}

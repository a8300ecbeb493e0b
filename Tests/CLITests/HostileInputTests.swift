import Foundation
import Testing
import Train

/// A finished one-epoch xo run in a scratch folder: its checkpoint's path and the runs folder.
func trainedXO(_ scratch: URL, extra: [String] = []) throws -> (runs: URL, checkpoint: URL) {
    let runs = scratch.appendingPathComponent("runs")
    let trained = try runner(["configs/xo.yaml", "--runs", runs.path, "--set", "train.epochs=1", "--threads", "1"] + extra)
    try #require(trained.status == 0, "\(trained.error)")
    let folder = runs.appendingPathComponent("xo/default/checkpoints")
    let name = try #require(try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasPrefix("step-") })
    return (runs, folder.appendingPathComponent(name))
}

/// Rewrites a checkpoint's metadata (its tensors and their digests stay valid).
func editCheckpoint(_ url: URL, _ edit: (inout [String: String]) throws -> Void) throws {
    var file = try SafeTensors.decode(Data(contentsOf: url), file: url.path)
    try edit(&file.metadata)
    try file.encoded().write(to: url)
}

/// Edits the JSON training state inside a checkpoint's metadata.
func editState(_ url: URL, _ edit: @escaping (inout [String: Any]) -> Void) throws {
    try editCheckpoint(url) { metadata in
        var state = try #require(try JSONSerialization.jsonObject(with: Data(metadata["state"]!.utf8)) as? [String: Any])
        edit(&state)
        metadata["state"] = String(decoding: try JSONSerialization.data(withJSONObject: state), as: UTF8.self)
    }
}

/// Marks a finished run as interrupted, so that the next invocation resumes it from its checkpoint.
func markInterrupted(_ run: URL) throws {
    let path = run.appendingPathComponent("summary.json")
    var summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: path)) as? [String: Any])
    summary["status"] = "interrupted"
    try JSONSerialization.data(withJSONObject: summary).write(to: path)
}

/// Tests/Interop/endless_server.py on a free loopback port: zeros forever, or `bytes` of them,
/// for any path. Stopped when released.
final class LoopbackServer {
    let process = Process()
    let port: Int
    init(bytes: Int? = nil) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-u", repository.appendingPathComponent("Tests/Interop/endless_server.py").path] + (bytes.map { [String($0)] } ?? [])
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)  // "port N (...)"
        port = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
    deinit { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
}

@Suite("Hostile inputs beyond the spec (issue 13)", .serialized)
struct HostileInputTests {
    /// A one-epoch CIFAR-10 spec whose data comes from `url` into `root`.
    static func cifarSpec(root: URL, url: String, sha256: String? = nil) -> String {
        """
        name: far
        model:
          input: [32, 32, 3]
          layers: [{flatten: {}}, {dense: {units: 10}}]
        data: {dataset: cifar10, root: \(root.path), url: "\(url)"\(sha256.map { ", sha256: \"\($0)\"" } ?? "")}
        train: {epochs: 1}
        """
    }

    @Test(
        "finding 4: a training state no run could have written is refused on resume, naming file and field; no crash, the run not left running",
        arguments: [
            ("step_in_epoch", -1, "step_in_epoch -1 is outside 0..<50"),
            ("epoch", 1_000_000, "epoch 1000000 is outside 0...1"),
            ("global_step", -100, "global_step -100 is not epoch × 50 steps + step_in_epoch = 50"),
            ("history", 1000, "the history holds 1000 epochs, 1 are done"),
            ("best_checkpoint", 0, "best_checkpoint '../../../escape.safetensors' is not step-<N>.safetensors with N in 0...50"),
            ("dropout_random", 0, "dropout_random must be 4 hexadecimal words, not all zero"),
        ])
    func impossibleState(field: String, value: Int, expected: String) throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (runs, checkpoint) = try trainedXO(scratch)
        try editState(checkpoint) { state in
            switch field {
            case "history": state["history"] = Array(repeating: (state["history"] as! [Any])[0], count: value)
            case "best_checkpoint": state["best_checkpoint"] = "../../../escape.safetensors"
            case "dropout_random": state["dropout_random"] = ["0", "0", "0", "0"]
            default: state[field] = value
            }
        }
        let run = runs.appendingPathComponent("xo/default")
        try markInterrupted(run)
        let resumed = try runner(["configs/xo.yaml", "--runs", runs.path, "--set", "train.epochs=1", "--threads", "1"])
        #expect(resumed.status == 1)
        #expect(resumed.error.contains("\(checkpoint.path): error: the training state is impossible for this spec: \(expected)"), "\(resumed.error)")
        #expect(resumed.error.contains("hint: delete this checkpoint to fall back to an earlier one, or run with --restart"))
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: run.appendingPathComponent("summary.json"))) as? [String: Any]
        #expect(summary?["status"] as? String == "interrupted")
    }

    @Test("finding 8: weights with flipped exponent bits are refused by their recorded SHA-256 (resume, eval and predict)")
    func flippedBits() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (runs, checkpoint) = try trainedXO(scratch)
        var bytes = try Data(contentsOf: checkpoint)
        let headerLength = Int(bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        // Bit 30 of 1,000 floats (the exponent's top bit: 0.1 becomes ~3.4e37).
        for index in 0 ..< 1000 { bytes[8 + headerLength + index * 4 + 3] ^= 0x40 }
        try bytes.write(to: checkpoint)
        let run = runs.appendingPathComponent("xo/default")
        try markInterrupted(run)
        let resumed = try runner(["configs/xo.yaml", "--runs", runs.path, "--set", "train.epochs=1"])
        #expect(resumed.status == 1)
        #expect(
            resumed.error.contains("\(checkpoint.path): error: tensor '")
                && resumed.error.contains("does not match its recorded SHA-256: the file was damaged after it was written"), "\(resumed.error)")
        let evaluated = try runner(["eval", run.path, "--split", "validation"])
        #expect(evaluated.status == 2 && evaluated.error.contains("does not match its recorded SHA-256"), "\(evaluated.error)")
        let predicted = try runner(["predict", checkpoint.path, "configs/xo.yaml"])
        #expect(predicted.status == 2 && predicted.error.contains("does not match its recorded SHA-256"), "\(predicted.error)")
    }

    @Test(
        "finding 4: predict refuses a recorded normalisation dividing by zero or indexing nothing, and class names of a wrong count or with escapes",
        arguments: [
            (
                "normalization", #"{"mean": [], "std": []}"#,
                "metadata normalization needs as many means as stds (at least one), all finite and every std above 0; it holds mean [], std []"
            ),
            (
                "normalization", #"{"mean": [0.5], "std": [0]}"#,
                "metadata normalization needs as many means as stds (at least one), all finite and every std above 0; it holds mean [0.5], std [0.0]"
            ),
            ("normalization", #"{"mean": [0.5, 0.5], "std": [1, 1]}"#, "metadata normalization has 2 channels, the model's input 12×12×1 has 1"),
            ("class_names", #"["x", "o", "extra"]"#, "the metadata names 3 classes, the model has 2 outputs"),
            ("class_names", #"["x", "\u001b[2Jo"]"#, "metadata class_names entry 1 is empty, longer than 200 characters or holds control characters"),
        ])
    func badInputConvention(key: String, value: String, expected: String) throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (_, checkpoint) = try trainedXO(scratch)
        try editCheckpoint(checkpoint) { $0[key] = value }
        let image = scratch.appendingPathComponent("x.png")
        #expect(try python("from PIL import Image; import sys; Image.new('L', (12, 12), 200).save(sys.argv[1])", [image.path]) == 0)
        let predicted = try runner(["predict", checkpoint.path, image.path])
        #expect(predicted.status == 2)
        #expect(predicted.error.contains("\(checkpoint.path): error: \(expected)"), "\(predicted.error)")
        #expect(!predicted.output.contains("nan") && !predicted.error.contains("\u{1b}"))
    }

    /// A safetensors file with a hand-written header over `data` bytes of tensor data.
    static func safetensors(header: String, dataBytes: Int) -> Data {
        var json = Data(header.utf8)
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var file = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        return file + json + Data(repeating: 0, count: dataBytes)
    }

    @Test(
        "finding 8: what Python's safetensors refuses, runner refuses: a name given twice, overlapping ranges, bytes of no tensor",
        arguments: [
            (
                #"{"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#, 8,
                "byte 8: error: the header names tensor 'w' twice"
            ),
            (
                #"{"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#, 8,
                "error: tensors 'a' [0, 8) and 'b' [4, 8) overlap"
            ),
            (#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}"#, 8, "error: data bytes [0, 4) belong to no tensor"),
            (#"{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}"#, 8, "error: data bytes [4, 8) after the last tensor belong to no tensor"),
        ])
    func pythonRefusesToo(header: String, dataBytes: Int, expected: String) throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let path = scratch.appendingPathComponent("bad.safetensors")
        try Self.safetensors(header: header, dataBytes: dataBytes).write(to: path)
        #expect { _ = try SafeTensors.decode(Data(contentsOf: path), file: path.path) } throws: { error in
            (error as? CheckpointError)?.description.contains(expected) == true
        }
        // Python's safetensors (the format's reference) refuses the same file.
        let script = "import sys\nfrom safetensors.numpy import load_file\ntry:\n    load_file(sys.argv[1])\nexcept Exception:\n    sys.exit(3)"
        #expect(try python(script, [path.path]) == 3)
    }

    @Test("finding 6: the run lock is never opened through a symbolic link: its target is left as it was")
    func symlinkedLock() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let victim = scratch.appendingPathComponent("precious.txt")
        try Data("keep me\n".utf8).write(to: victim)
        let runs = scratch.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: runs.appendingPathComponent("xo"), withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: runs.appendingPathComponent("xo/.default.lock").path, withDestinationPath: victim.path)
        let trained = try runner(["configs/xo.yaml", "--runs", runs.path, "--set", "train.epochs=1"])
        #expect(trained.status == 1)
        #expect(trained.error.contains("xo/.default.lock: error: the run's lock file is a symbolic link"), "\(trained.error)")
        #expect(try String(contentsOf: victim, encoding: .utf8) == "keep me\n")
    }

    @Test("finding 6: a durable write's temporary name cannot be guessed: a link planted at the old name (.NAME.tmp-PID) is not followed")
    func plantedTemporary() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let victim = scratch.appendingPathComponent("precious.txt")
        try Data("keep me\n".utf8).write(to: victim)
        let target = scratch.appendingPathComponent("summary.json")
        try FileManager.default.createSymbolicLink(
            atPath: scratch.appendingPathComponent(".summary.json.tmp-\(getpid())").path, withDestinationPath: victim.path)
        try writeAtomically("{}\n", to: target.path)
        #expect(try String(contentsOf: victim, encoding: .utf8) == "keep me\n")
        #expect(try String(contentsOf: target, encoding: .utf8) == "{}\n")
        let left = try FileManager.default.contentsOfDirectory(atPath: scratch.path).filter { $0.contains(".tmp-") && $0 != ".summary.json.tmp-\(getpid())" }
        #expect(left.isEmpty)
    }
}

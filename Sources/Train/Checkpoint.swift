import Datasets
import Files
import Foundation
import Graph
import Plan
import Spec
import Tensor

/// runner's version, recorded in every checkpoint.
public let runnerVersion = "0.2.0"

/// Everything beyond tensors that a run needs to continue exactly where it stopped.
public struct TrainingState: Codable, Equatable {
    /// The epoch in progress (0-based) and how many of its steps are done.
    public var epoch: Int = 0
    public var stepInEpoch: Int = 0
    public var globalStep: Int = 0
    public var optimizerStep: Int = 0
    /// The dropout generator's four words, hex.
    public var dropoutRandom: [String] = []
    /// The epoch's running sums (exact: Doubles round-trip through JSON).
    public var lossSum: Double = 0
    public var correct: Int = 0
    public var seen: Int = 0
    public var history: [EpochMetrics] = []
    public var best: EpochMetrics?
    public var bestCheckpoint: String?
    /// Early stopping: the best value so far of its metric and the epochs since it improved.
    public var earlyStoppingBest: Double?
    public var earlyStoppingWait: Int = 0
    /// The precision and CPU level the checkpoint loaded from was computed with (metadata, not
    /// part of the state's JSON): a resumed run says when it continues differently.
    public var checkpointCompute: ComputeRecord? = nil

    enum CodingKeys: String, CodingKey {
        case epoch, stepInEpoch = "step_in_epoch", globalStep = "global_step", optimizerStep = "optimizer_step",
            dropoutRandom = "dropout_random", lossSum = "epoch_loss_sum", correct = "epoch_correct", seen = "epoch_seen",
            history, best, bestCheckpoint = "best_checkpoint", earlyStoppingBest = "early_stopping_best", earlyStoppingWait = "early_stopping_wait"
    }

    var random: RandomSource {
        get {
            var source = RandomSource(seed: 0)
            let words = dropoutRandom.compactMap { UInt64($0, radix: 16) }
            if words.count == 4 { source.state = (words[0], words[1], words[2], words[3]) }
            return source
        }
        set {
            let s = newValue.state
            dropoutRandom = [s.0, s.1, s.2, s.3].map { String($0, radix: 16) }
        }
    }
}

extension TrainingState {
    /// Refuses a state that no run of this spec could have written: every counter in range and
    /// consistent with the others, the history one entry per finished epoch, names that are
    /// checkpoint names. (A decoded field is outside input: a negative step once crashed resume.)
    func check(epochs: Int, stepsPerEpoch: Int, batchSize: Int, fileStep: Int, metadata: [String: String], path: String) throws(CheckpointError) {
        func fail(_ message: String) -> CheckpointError { CheckpointError(file: path, "the training state is impossible for this spec: \(message)") }
        guard (0 ... epochs).contains(epoch) else { throw fail("epoch \(epoch) is outside 0...\(epochs)") }
        guard (0 ..< stepsPerEpoch).contains(stepInEpoch), epoch < epochs || stepInEpoch == 0 else {
            throw fail("step_in_epoch \(stepInEpoch) is outside 0..<\(stepsPerEpoch)\(epoch == epochs ? " (0 once every epoch is done)" : "")")
        }
        let expectedStep = epoch.multipliedReportingOverflow(by: stepsPerEpoch).partialValue + stepInEpoch
        guard globalStep == expectedStep else {
            throw fail("global_step \(globalStep) is not epoch × \(stepsPerEpoch) steps + step_in_epoch = \(expectedStep)")
        }
        guard globalStep == fileStep else { throw fail("global_step \(globalStep) differs from the file name's step \(fileStep)") }
        for (key, value) in [("epoch", epoch), ("step_in_epoch", stepInEpoch), ("global_step", globalStep)] where metadata[key] != String(value) {
            throw fail("metadata \(key) \(metadata[key] ?? "(missing)") differs from the state's \(value)")
        }
        guard (0 ... globalStep).contains(optimizerStep) else { throw fail("optimizer_step \(optimizerStep) is outside 0...\(globalStep)") }
        let words = dropoutRandom.compactMap { UInt64($0, radix: 16) }
        guard dropoutRandom.count == 4, words.count == 4, words.contains(where: { $0 != 0 }) else {
            throw fail("dropout_random must be 4 hexadecimal words, not all zero")
        }
        guard lossSum.isFinite, lossSum >= 0, (0 ... seen).contains(correct), seen <= stepInEpoch * batchSize, seen >= stepInEpoch else {
            throw fail("the epoch's sums (loss \(lossSum), correct \(correct), seen \(seen)) do not fit \(stepInEpoch) steps of at most \(batchSize)")
        }
        guard history.count == epoch else { throw fail("the history holds \(history.count) epochs, \(epoch) are done") }
        for (index, entry) in history.enumerated() where entry.epoch != index + 1 {
            throw fail("history entry \(index) is epoch \(entry.epoch), expected \(index + 1)")
        }
        if let best, !history.contains(best) { throw fail("the best epoch \(best.epoch) is not in the history") }
        if let bestCheckpoint {
            guard let step = Checkpoints.step(ofName: bestCheckpoint), (0 ... globalStep).contains(step) else {
                throw fail("best_checkpoint '\(bestCheckpoint.prefix(80))' is not step-<N>.safetensors with N in 0...\(globalStep)")
            }
        }
        guard (0 ... epoch).contains(earlyStoppingWait), earlyStoppingBest?.isFinite ?? true else {
            throw fail("early stopping's wait \(earlyStoppingWait) or best \(earlyStoppingBest.map { "\($0)" } ?? "-") is impossible after \(epoch) epochs")
        }
    }
}

/// What a model's input and output mean, recorded in every checkpoint so that `runner predict`
/// (or a Python user) can prepare an image and name the classes without the training data:
/// metadata `class_names` (a JSON array, in label order) and, when the run normalised its
/// inputs, `normalization` (`{"mean": [...], "std": [...]}` per channel, applied to pixels
/// scaled to [0, 1] as `(x - mean) / std`).
public struct InputConvention: Equatable, Sendable {
    public var classNames: [String]
    public var normalization: Normalization?
    public init(classNames: [String], normalization: Normalization?) { self.classNames = classNames; self.normalization = normalization }
}

/// A 64-bit FNV-1a hash of the resolved spec, hex: a checkpoint remembers which spec made it.
public func specHash(_ resolvedYAML: String) -> String {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in resolvedYAML.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
    return String(hash, radix: 16)
}

/// Writing and reading checkpoints: `checkpoints/step-<N>.safetensors` in a run directory.
public enum Checkpoints {
    static func folder(_ run: String) -> String { (run as NSString).appendingPathComponent("checkpoints") }
    static func name(step: Int) -> String { "step-\(step).safetensors" }

    /// The step of a checkpoint's file name `step-<N>.safetensors` (N: decimal digits only, so
    /// never negative), or nil for any other name.
    public static func step(ofName name: String) -> Int? {
        guard name.hasPrefix("step-"), name.hasSuffix(".safetensors") else { return nil }
        let digits = name.dropFirst(5).dropLast(12)
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// Checkpoint files of a run, oldest first (by step). Temporary files are ignored.
    public static func list(_ run: String) -> [(step: Int, path: String)] {
        let folder = folder(run)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard let step = step(ofName: name) else { return nil }
            return (step, (folder as NSString).appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// Removes temporary files a killed process left mid-write (they never carry a checkpoint's
    /// name, so nothing read them).
    static func removeStaleTemporaries(_ run: String) {
        let folder = folder(run)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where isDurableTemporary(name) {
            try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name))
        }
    }

    /// Reads a checkpoint file and copies its parameters and state (not the optimizer's) into
    /// `plan`, checking every name and shape; returns the file for the rest.
    @discardableResult
    public static func loadParameters(_ path: String, into plan: Plan) throws(CheckpointError) -> SafeTensors {
        let file = try read(path)
        try copyParameters(file, path: path, into: plan)
        return file
    }

    /// Copies the parameters of a decoded checkpoint (read from `path`) into `plan`, checking
    /// every name and shape.
    public static func copyParameters(_ file: SafeTensors, path: String, into plan: Plan) throws(CheckpointError) {
        for entry in plan.parameterTable { try copy(file, entry.name, shape: entry.spec.shape, into: plan.view(of: entry), path: path) }
    }

    /// The format runner writes: version 2 records each tensor's SHA-256 (`tensor_sha256`);
    /// version 1 files (runner 0.2.0 and before) have none and are read unchecked.
    static let format = "runner-checkpoint-2"
    static let formats: Set<String> = ["runner-checkpoint-1", "runner-checkpoint-2"]

    /// The SHA-256 of a tensor's little-endian float32 bytes, as Python computes it:
    /// `hashlib.sha256(tensor.astype("<f4").tobytes()).hexdigest()`.
    static func tensorDigest(_ values: [Float]) -> String { values.withUnsafeBufferPointer { tensorDigest($0) } }

    static func tensorDigest(_ values: UnsafeBufferPointer<Float>) -> String {
        let bytes = UnsafeRawBufferPointer(values)
        var hash = SHA256()
        hash.update(
            Data(
                bytesNoCopy: UnsafeMutableRawPointer(mutating: bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 8)!), count: bytes.count,
                deallocator: .none))
        return hash.finalize()
    }

    /// Reads and decodes a checkpoint file without loading it anywhere; a runner checkpoint's
    /// tensors are checked against the digests it recorded when it was written.
    public static func read(_ path: String) throws(CheckpointError) -> SafeTensors {
        let data: Data
        do { data = try FileLimits.read(path, cap: FileLimits.checkpoint, kind: "checkpoint") } catch {
            throw CheckpointError(file: path, error.message, hint: error.hint)
        }
        let file = try SafeTensors.decode(data, file: path)
        try verifyDigests(file, path: path)
        return file
    }

    /// Checks a version-2 file's tensors against their recorded digests (version 1 has none).
    public static func verifyDigests(_ file: SafeTensors, path: String) throws(CheckpointError) {
        guard file.metadata["format"] == format else { return }
        guard let text = file.metadata["tensor_sha256"],
            let digests = try? JSONDecoder().decode([String: String].self, from: Data(text.utf8))
        else {
            throw CheckpointError(file: path, "the metadata lacks tensor_sha256, which \(format) files record")
        }
        for name in file.names {
            guard let recorded = digests[name] else { throw CheckpointError(file: path, "tensor_sha256 has no digest for tensor '\(name)'") }
            guard recorded == tensorDigest(file.tensors[name]!.values) else {
                throw CheckpointError(file: path, "tensor '\(name)' does not match its recorded SHA-256: the file was damaged after it was written")
            }
        }
    }

    /// The `tensor_sha256` metadata value for a file's tensors: a JSON object, name → hex digest.
    public static func digestsJSON(_ file: SafeTensors) -> String {
        digestsJSON(file.names.map { name in file.tensors[name]!.values.withUnsafeBufferPointer { (name, tensorDigest($0)) } })
    }

    /// The same for tensors lent where they live.
    static func digestsJSON(_ tensors: [SafeTensors.Lent]) -> String { digestsJSON(tensors.map { ($0.name, tensorDigest($0.values)) }) }

    static func digestsJSON(_ digests: [(String, String)]) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let table = Dictionary(digests, uniquingKeysWith: { first, _ in first })
        return String(decoding: (try? encoder.encode(table)) ?? Data("{}".utf8), as: UTF8.self)
    }

    /// The class names and input normalisation a checkpoint records, or nil when it records
    /// none (older checkpoints). What it records is checked: 1 to 100,000 names of 1 to 200
    /// characters without control characters (they are printed), and per channel a finite mean
    /// and a finite, positive std.
    public static func inputConvention(_ file: SafeTensors, path: String) throws(CheckpointError) -> InputConvention? {
        guard let namesText = file.metadata["class_names"] else { return nil }
        guard let names = try? JSONDecoder().decode([String].self, from: Data(namesText.utf8)) else {
            throw CheckpointError(file: path, "metadata class_names is not a JSON array of strings")
        }
        guard (1 ... 100_000).contains(names.count) else {
            throw CheckpointError(file: path, "metadata class_names holds \(names.count) names; 1 to 100,000 are allowed")
        }
        if let bad = names.firstIndex(where: { !(1 ... 200).contains($0.count) || $0.unicodeScalars.contains { $0.properties.generalCategory == .control } }) {
            throw CheckpointError(file: path, "metadata class_names entry \(bad) is empty, longer than 200 characters or holds control characters")
        }
        guard let text = file.metadata["normalization"] else { return InputConvention(classNames: names, normalization: nil) }
        guard let numbers = try? JSONDecoder().decode([String: [Float]].self, from: Data(text.utf8)),
            let mean = numbers["mean"], let std = numbers["std"]
        else {
            throw CheckpointError(file: path, "metadata normalization is not {\"mean\": [...], \"std\": [...]}")
        }
        guard !mean.isEmpty, mean.count == std.count, mean.allSatisfy(\.isFinite), std.allSatisfy({ $0.isFinite && $0 > 0 }) else {
            throw CheckpointError(
                file: path,
                "metadata normalization needs as many means as stds (at least one), all finite and every std above 0; it holds mean \(mean.prefix(8)), "
                    + "std \(std.prefix(8))"
            )
        }
        return InputConvention(classNames: names, normalization: Normalization(mean: mean, std: std))
    }

    /// Checks a recorded input convention against the model it is to be used with: one class
    /// name per output, one mean and std per input channel.
    public static func check(_ convention: InputConvention, against graph: Graph, path: String) throws(CheckpointError) {
        let classes = graph.outputShape.count
        guard convention.classNames.count == classes else {
            throw CheckpointError(
                file: path, "the metadata names \(convention.classNames.count) classes, the model has \(classes) outputs",
                hint: "use a checkpoint of a run trained with this config")
        }
        if let normalization = convention.normalization, normalization.mean.count != graph.input.dimensions.last {
            throw CheckpointError(
                file: path,
                "metadata normalization has \(normalization.mean.count) channels, the model's input \(graph.input) has \(graph.input.dimensions.last ?? 0)",
                hint: "use a checkpoint of a run trained with this config")
        }
    }

    static func copy(_ file: SafeTensors, _ name: String, shape: [Int], into target: UnsafeMutableBufferPointer<Float>, path: String) throws(CheckpointError) {
        guard let tensor = file.tensors[name] else { throw CheckpointError(file: path, "tensor '\(name)' is missing") }
        guard tensor.shape == shape, tensor.values.count == target.count else {
            throw CheckpointError(file: path, "tensor '\(name)' has shape \(tensor.shape), the model needs \(shape)")
        }
        _ = target.update(from: tensor.values)
    }

    /// Loads a checkpoint into the plan and optimizer; returns the training state, checked against the spec, the
    /// file's name (`step-<N>.safetensors`, `step`) and the examples per step over all ranks (`batchSize`; nil: the plan's).
    static func load(
        _ path: String, step: Int, plan: Plan, optimizer: Optimizer, spec: ExperimentSpec, dataFingerprint: String,
        stepsPerEpoch: Int, batchSize: Int? = nil
    ) throws(CheckpointError) -> TrainingState {
        try restore(
            read(path), path: path, step: step, plan: plan, optimizer: optimizer, spec: spec, dataFingerprint: dataFingerprint, stepsPerEpoch: stepsPerEpoch,
            batchSize: batchSize)
    }

    /// `load` after the file is read and decoded (public for the fuzz target that drives it).
    public static func restore(
        _ file: SafeTensors, path: String, step: Int, plan: Plan, optimizer: Optimizer, spec: ExperimentSpec, dataFingerprint: String,
        stepsPerEpoch: Int, batchSize: Int? = nil
    ) throws(CheckpointError) -> TrainingState {
        try copyParameters(file, path: path, into: plan)
        guard formats.contains(file.metadata["format"] ?? ""), let stateText = file.metadata["state"],
            let state = try? JSONDecoder().decode(TrainingState.self, from: Data(stateText.utf8))
        else {
            throw CheckpointError(file: path, "the metadata holds no runner training state")
        }
        guard file.metadata["spec_hash"] == specHash(spec.resolvedYAML()) else {
            throw CheckpointError(
                file: path, "the checkpoint was written for a different spec", hint: "run with --restart to train the changed spec from scratch")
        }
        let perStep = batchSize ?? plan.capacity
        try state.check(epochs: spec.train.epochs, stepsPerEpoch: stepsPerEpoch, batchSize: perStep, fileStep: step, metadata: file.metadata, path: path)
        if let recorded = file.metadata["data_fingerprint"], recorded != dataFingerprint {
            throw CheckpointError(
                file: path, "the training data changed since this run started (fingerprint \(recorded), now \(dataFingerprint))",
                hint: "restore the dataset files the run started with, or run with --restart to train on the new data from scratch")
        }
        func copy(_ name: String, shape: [Int], into target: UnsafeMutableBufferPointer<Float>) throws(CheckpointError) {
            try Checkpoints.copy(file, name, shape: shape, into: target, path: path)
        }
        let kind = file.metadata["optimizer"] ?? ""
        var first = optimizer.first, second = optimizer.second
        for entry in plan.parameterTable where entry.spec.trainable {
            let range = entry.offset ..< entry.offset + entry.spec.count
            try first.withUnsafeMutableBufferPointer { buffer throws(CheckpointError) in
                try copy(
                    "optimizer/\(kind)/\(kind == "sgd" ? "velocity" : "m")/\(entry.name)", shape: entry.spec.shape,
                    into: UnsafeMutableBufferPointer(rebasing: buffer[range]))
            }
            if !second.isEmpty {
                try second.withUnsafeMutableBufferPointer { buffer throws(CheckpointError) in
                    try copy("optimizer/\(kind)/v/\(entry.name)", shape: entry.spec.shape, into: UnsafeMutableBufferPointer(rebasing: buffer[range]))
                }
            }
        }
        optimizer.restore(first: first, second: second, step: state.optimizerStep)
        if let lookahead = optimizer.lookahead {
            for entry in plan.parameterTable {
                var values = [Float](repeating: 0, count: entry.spec.count)
                try values.withUnsafeMutableBufferPointer { buffer throws(CheckpointError) in
                    try copy("lookahead/\(entry.name)", shape: entry.spec.shape, into: buffer)
                }
                lookahead.restore(entry, values)
            }
        }
        var restored = state
        if let precision = file.metadata["precision"], let level = file.metadata["cpu_level"] {
            restored.checkpointCompute = ComputeRecord(precision: precision, level: level)
        }
        return restored
    }
}

import Data
import Foundation
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

    /// Checkpoint files of a run, oldest first (by step). Temporary files are ignored.
    public static func list(_ run: String) -> [(step: Int, path: String)] {
        let folder = folder(run)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("step-"), name.hasSuffix(".safetensors"),
                  let step = Int(name.dropFirst(5).dropLast(12)) else { return nil }
            return (step, (folder as NSString).appendingPathComponent(name))
        }.sorted { $0.0 < $1.0 }
    }

    /// Removes temporary files a killed process left mid-write (they never carry a checkpoint's
    /// name, so nothing read them).
    static func removeStaleTemporaries(_ run: String) {
        let folder = folder(run)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(".") && name.contains(".tmp-") {
            try? FileManager.default.removeItem(atPath: (folder as NSString).appendingPathComponent(name))
        }
    }

    static func save(plan: Plan, optimizer: Optimizer, state: TrainingState, spec: ExperimentSpec, dataFingerprint: String,
                     input: InputConvention, to path: String) throws {
        var file = SafeTensors()
        for entry in plan.parameterTable {
            file.add(entry.name, shape: entry.spec.shape, values: UnsafeBufferPointer(plan.view(of: entry)))
        }
        let kind: String
        switch spec.train.optimizer {
        case .sgd: kind = "sgd"
        case .adam(_, _, _, _, _, let decoupled): kind = decoupled ? "adamw" : "adam"
        }
        for entry in plan.parameterTable where entry.spec.trainable {
            optimizer.first.withUnsafeBufferPointer { first in
                let view = UnsafeBufferPointer(rebasing: first[entry.offset ..< entry.offset + entry.spec.count])
                file.add("optimizer/\(kind)/\(kind == "sgd" ? "velocity" : "m")/\(entry.name)", shape: entry.spec.shape, values: view)
            }
            if !optimizer.second.isEmpty {
                optimizer.second.withUnsafeBufferPointer { second in
                    file.add("optimizer/\(kind)/v/\(entry.name)", shape: entry.spec.shape,
                             values: UnsafeBufferPointer(rebasing: second[entry.offset ..< entry.offset + entry.spec.count]))
                }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let resolved = spec.resolvedYAML()
        file.metadata = [
            "format": "runner-checkpoint-1",
            "runner_version": runnerVersion,
            "experiment": spec.name,
            "spec_hash": specHash(resolved),
            "data_fingerprint": dataFingerprint,
            "epoch": String(state.epoch),
            "step_in_epoch": String(state.stepInEpoch),
            "global_step": String(state.globalStep),
            "optimizer": kind,
            // What computed this state (`auto` resolves per machine; informational).
            "precision": plan.context.compute.precision.rawValue,
            "cpu_level": plan.context.compute.level.description,
            "optimizer_step": String(state.optimizerStep),
            "learning_rate": String(spec.train.schedule.learningRate(base: spec.train.optimizer.learningRate, epoch: Double(state.epoch), totalEpochs: spec.train.epochs)),
            "state": String(decoding: try encoder.encode(state), as: UTF8.self),
            "class_names": String(decoding: try encoder.encode(input.classNames), as: UTF8.self),
        ]
        if let normalization = input.normalization {
            file.metadata["normalization"] = String(decoding: try encoder.encode(["mean": normalization.mean, "std": normalization.std]), as: UTF8.self)
        }
        try writeDurably(file.encoded(), to: path)
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

    /// Reads and decodes a checkpoint file without loading it anywhere.
    public static func read(_ path: String) throws(CheckpointError) -> SafeTensors {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CheckpointError(file: path, "cannot read the checkpoint")
        }
        return try SafeTensors.decode(data, file: path)
    }

    /// The class names and input normalisation a checkpoint records, or nil when it records
    /// none (older checkpoints) or they do not parse.
    public static func inputConvention(_ file: SafeTensors) -> InputConvention? {
        guard let names = file.metadata["class_names"].flatMap({ try? JSONDecoder().decode([String].self, from: Data($0.utf8)) }) else { return nil }
        guard let text = file.metadata["normalization"] else { return InputConvention(classNames: names, normalization: nil) }
        guard let numbers = try? JSONDecoder().decode([String: [Float]].self, from: Data(text.utf8)),
              let mean = numbers["mean"], let std = numbers["std"], mean.count == std.count else { return nil }
        return InputConvention(classNames: names, normalization: Normalization(mean: mean, std: std))
    }

    static func copy(_ file: SafeTensors, _ name: String, shape: [Int], into target: UnsafeMutableBufferPointer<Float>, path: String) throws(CheckpointError) {
        guard let tensor = file.tensors[name] else { throw CheckpointError(file: path, "tensor '\(name)' is missing") }
        guard tensor.shape == shape, tensor.values.count == target.count else {
            throw CheckpointError(file: path, "tensor '\(name)' has shape \(tensor.shape), the model needs \(shape)")
        }
        _ = target.update(from: tensor.values)
    }

    /// Loads a checkpoint into the plan and optimizer; returns the training state.
    static func load(_ path: String, plan: Plan, optimizer: Optimizer, spec: ExperimentSpec, dataFingerprint: String) throws(CheckpointError) -> TrainingState {
        let file = try loadParameters(path, into: plan)
        guard file.metadata["format"] == "runner-checkpoint-1", let stateText = file.metadata["state"],
              let state = try? JSONDecoder().decode(TrainingState.self, from: Data(stateText.utf8)) else {
            throw CheckpointError(file: path, "the metadata holds no runner training state")
        }
        guard file.metadata["spec_hash"] == specHash(spec.resolvedYAML()) else {
            throw CheckpointError(file: path, "the checkpoint was written for a different spec", hint: "run with --restart to train the changed spec from scratch")
        }
        if let recorded = file.metadata["data_fingerprint"], recorded != dataFingerprint {
            throw CheckpointError(file: path, "the training data changed since this run started (fingerprint \(recorded), now \(dataFingerprint))",
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
                try copy("optimizer/\(kind)/\(kind == "sgd" ? "velocity" : "m")/\(entry.name)", shape: entry.spec.shape, into: UnsafeMutableBufferPointer(rebasing: buffer[range]))
            }
            if !second.isEmpty {
                try second.withUnsafeMutableBufferPointer { buffer throws(CheckpointError) in
                    try copy("optimizer/\(kind)/v/\(entry.name)", shape: entry.spec.shape, into: UnsafeMutableBufferPointer(rebasing: buffer[range]))
                }
            }
        }
        optimizer.restore(first: first, second: second, step: state.optimizerStep)
        var restored = state
        if let precision = file.metadata["precision"], let level = file.metadata["cpu_level"] {
            restored.checkpointCompute = ComputeRecord(precision: precision, level: level)
        }
        return restored
    }
}

/// Writes `data` so that a crash at any moment leaves either the old file or the whole new
/// one: a temporary file in the same folder, fsync, rename over the target, fsync the folder.
public func writeDurably(_ data: Data, to path: String) throws {
    let folder = (path as NSString).deletingLastPathComponent
    let temporary = (folder as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).tmp-\(getpid())")
    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    guard descriptor >= 0 else { throw posixError(temporary, errno) }
    var written = 0
    let failure: Int32? = data.withUnsafeBytes { bytes -> Int32? in
        while written < bytes.count {
            let result = write(descriptor, bytes.baseAddress! + written, bytes.count - written)
            if result < 0 { if errno == EINTR { continue }; return errno }
            written += result
        }
        return fsync(descriptor) == 0 ? nil : errno
    }
    close(descriptor)
    if let failure { unlink(temporary); throw posixError(path, failure) }
    guard rename(temporary, path) == 0 else { let code = errno; unlink(temporary); throw posixError(path, code) }
    let directory = open(folder.isEmpty ? "." : folder, O_RDONLY)
    if directory >= 0 { fsync(directory); close(directory) }
}

func posixError(_ path: String, _ code: Int32) -> Error {
    NSError(domain: NSPOSIXErrorDomain, code: Int(code), userInfo: [NSLocalizedDescriptionKey: "\(path): \(String(cString: strerror(code)))"])
}

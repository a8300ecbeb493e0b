import Foundation
import Layers
import Tensor

/// An experiment as written, every default filled in: what to train, on what, and how.
public struct ExperimentSpec {
    /// The experiment file, as given on the command line.
    public var file: String
    public var name: String
    public var seed: Int
    public var model: ModelSpec
    /// The model file as written (`models/seed_cnn.yaml`), or nil when inline.
    public var modelPath: String?
    public var data: DataSpec
    public var loss: LossSpec
    public var train: TrainSpec
    public var checkpoint: CheckpointSpec
    public var earlyStopping: EarlyStoppingSpec?
    public var tensorboard: TensorBoardSpec
    public var location: SpecLocation

    /// The experiment file's keys (Declarations.swift).
    public static var keys: [String] { Declarations.experimentKeys }
}

/// What a run logs for TensorBoard, and how often. 0 turns a kind off.
public struct TensorBoardSpec: Sendable, Equatable {
    public var enabled: Bool
    /// Batch loss, accuracy, learning rate and images/s every this many steps.
    public var scalarsEverySteps: Int
    /// Histograms of every parameter and its gradient.
    public var histogramsEveryEpochs: Int
    /// A grid of validation examples (true vs predicted) and the first convolution's filters.
    public var imagesEveryEpochs: Int
    public var graph: Bool
    public var text: Bool

    public static let standard = TensorBoardSpec(enabled: true, scalarsEverySteps: 50, histogramsEveryEpochs: 1, imagesEveryEpochs: 5, graph: true, text: true)

    public init(enabled: Bool, scalarsEverySteps: Int, histogramsEveryEpochs: Int, imagesEveryEpochs: Int, graph: Bool, text: Bool) {
        self.enabled = enabled; self.scalarsEverySteps = scalarsEverySteps; self.histogramsEveryEpochs = histogramsEveryEpochs
        self.imagesEveryEpochs = imagesEveryEpochs; self.graph = graph; self.text = text
    }
}

/// Metrics a checkpoint or early stopping can follow, by their names in specs and TensorBoard.
public enum Metric: String, CaseIterable, Sendable {
    case validationAccuracy = "val/accuracy", validationLoss = "val/loss"
    case trainAccuracy = "train/accuracy", trainLoss = "train/loss"

    /// Whether larger is better.
    public var increases: Bool { self == .validationAccuracy || self == .trainAccuracy }
}

/// Which way an early-stopping metric must move to count as better.
public enum Direction: String, CaseIterable, Sendable {
    case max, min
}

/// When checkpoints are written and which are kept.
public struct CheckpointSpec: Sendable, Equatable {
    public var everyEpochs: Int
    /// The newest this many are kept…
    public var keepLast: Int
    /// …and the best by this metric (nil: none kept for being best).
    public var keepBest: Metric?

    public init(everyEpochs: Int, keepLast: Int, keepBest: Metric?) {
        self.everyEpochs = everyEpochs; self.keepLast = keepLast; self.keepBest = keepBest
    }

    public static let standard = CheckpointSpec(everyEpochs: 1, keepLast: 3, keepBest: .validationAccuracy)
}

/// Stop when `metric` has not improved by more than `minDelta` for `patience` epochs.
public struct EarlyStoppingSpec: Sendable, Equatable {
    public var metric: Metric
    /// By default max for accuracy, min for loss.
    public var mode: Direction
    public var patience: Int
    public var minDelta: Double

    public init(metric: Metric, mode: Direction, patience: Int, minDelta: Double) {
        self.metric = metric; self.mode = mode; self.patience = patience; self.minDelta = minDelta
    }
}

extension ExperimentSpec {
    /// Loads an experiment file and, if it names one, its model file (relative to the
    /// experiment's folder).
    public static func load(path: String, overrides: [Override] = []) throws(SpecError) -> ExperimentSpec {
        let root = try SpecNode.load(path: path, shownAs: path)
        return try ExperimentSpec(root, directory: (path as NSString).deletingLastPathComponent, overrides: overrides)
    }

    /// Reads an experiment, with `overrides` put in place first (a sweep point, `--set` flags).
    /// Overrides under `model.` reach into the model file when the model is one.
    public init(_ original: SpecNode, directory: String, overrides: [Override] = []) throws(SpecError) {
        do throws(SpecError) {
            try self.init(reading: original, directory: directory, overrides: overrides)
        } catch {
            throw OverrideMarks.locate(error, overrides: overrides)
        }
    }

    private init(reading original: SpecNode, directory: String, overrides: [Override]) throws(SpecError) {
        file = original.file
        location = original.location
        var tree = original.node
        var modelOverrides: [Override] = []
        let modelIsFile = (try? original.mapping("the experiment", allowed: ExperimentSpec.keys))?["model"]?.scalarText != nil
        var modelOverrideIndices: [Int] = []
        for (index, override) in overrides.enumerated() {
            if modelIsFile && override.path.first == "model" && override.path.count > 1 {
                modelOverrides.append(Override(path: Array(override.path.dropFirst()), value: override.value, location: override.location))
                modelOverrideIndices.append(index)
            } else {
                tree = try applying(override, index: index, to: tree, file: file)
            }
        }
        let node = SpecNode(node: tree, file: original.file)
        let map = try node.mapping("the experiment", allowed: ExperimentSpec.keys)
        let defaultName = ((file as NSString).lastPathComponent as NSString).deletingPathExtension
        name = try map.string("name", default: defaultName)
        // The name becomes a folder under runs/: whether written or taken from the file's name
        // (a file called `...yaml` would otherwise name its run `..`).
        if name.range(of: "^[A-Za-z0-9_][A-Za-z0-9_.=,-]*$", options: .regularExpression) == nil {
            if let nameNode = map["name"] {
                throw SpecError(nameNode.location, "'\(name)' cannot name a run directory", hint: "use letters, digits and _ . - = ,")
            }
            throw SpecError(
                node.location, "the file name gives the run name '\(name)', which cannot name a run directory",
                hint: "add a name: to the file (letters, digits and _ . - = ,), or rename the file")
        }
        seed = try map.int(Declarations.file["seed"])
        guard let modelNode = map["model"] else { throw map.missing("model") }
        if let path = modelNode.scalarText, !modelNode.isNull {
            let resolved = path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path)
            guard FileManager.default.fileExists(atPath: resolved) else {
                throw SpecError(
                    modelNode.location, "model file '\(resolved)' does not exist",
                    hint: "model: is a path relative to this file's folder, or an inline mapping with input: and layers:")
            }
            let type = (try? FileManager.default.attributesOfItem(atPath: resolved))?[.type] as? FileAttributeType
            guard type == .typeRegular || type == .typeSymbolicLink else {
                throw SpecError(modelNode.location, "model file '\(resolved)' is not a regular file", hint: "model: names a YAML file with input: and layers:")
            }
            modelPath = path
            var modelNode = try SpecNode.load(path: resolved, shownAs: resolved)
            for (override, index) in zip(modelOverrides, modelOverrideIndices) {
                modelNode = SpecNode(node: try applying(override, index: index, to: modelNode.node, file: resolved), file: resolved)
            }
            model = try ModelSpec(modelNode)
        } else {
            modelPath = nil
            model = try ModelSpec(modelNode)
        }
        guard let dataNode = map["data"] else { throw map.missing("data") }
        data = try DataSpec(dataNode)
        loss = try LossSpec(map["loss"])
        train = try TrainSpec(map["train"], location: map.location)
        checkpoint = try CheckpointSpec(map["checkpoint"], location: map.location)
        earlyStopping = try map["early_stopping"].flatMap { node throws(SpecError) in node.isNull ? nil : try EarlyStoppingSpec(node) }
        tensorboard = try TensorBoardSpec(map["tensorboard"])
        if let sweep = map["sweep"] { _ = try SweepSpec(sweep) }  // validated here; expanded by `SweepSpec.expand`
    }
}

extension CheckpointSpec {
    init(_ node: SpecNode?, location: SpecLocation) throws(SpecError) {
        guard let node, !node.isNull else { self = .standard; return }
        let declared = Declarations.checkpoint
        let map = try node.mapping("checkpoint", declared: declared)
        everyEpochs = try map.int(declared["every_epochs"])
        keepLast = try map.int(declared["keep_last"])
        if let best = map["keep_best"], best.isNull || best.scalarText == "none" {
            keepBest = nil
        } else {
            keepBest = Metric(rawValue: try map.choice("keep_best", default: "val/accuracy", allowed: Metric.allCases.map(\.rawValue) + ["none"]))
        }
    }
}

extension TensorBoardSpec {
    init(_ node: SpecNode?) throws(SpecError) {
        guard let node, !node.isNull else { self = .standard; return }
        if node.scalarText == "false" || node.scalarText == "off" { self = .standard; enabled = false; return }
        let declared = Declarations.tensorboard
        let map = try node.mapping("tensorboard", declared: declared)
        enabled = try map.bool(declared["enabled"])
        scalarsEverySteps = try map.int(declared["scalars_every_steps"])
        histogramsEveryEpochs = try map.int(declared["histograms_every_epochs"])
        imagesEveryEpochs = try map.int(declared["images_every_epochs"])
        graph = try map.bool(declared["graph"])
        text = try map.bool(declared["text"])
    }
}

extension EarlyStoppingSpec {
    init(_ node: SpecNode) throws(SpecError) {
        let declared = Declarations.earlyStopping
        let map = try node.mapping("early_stopping", declared: declared)
        metric = try map.choice(declared["metric"])
        mode = try map.choice("mode", default: metric.increases ? Direction.max : .min)
        patience = try map.int(declared["patience"])
        minDelta = try map.double(declared["min_delta"])
    }
}

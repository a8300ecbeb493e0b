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

    public static let keys = ["name", "seed", "model", "data", "loss", "train", "checkpoint", "early_stopping", "tensorboard", "sweep"]
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

/// Metrics a checkpoint or early stopping can follow.
public let metricNames = ["val/accuracy", "val/loss", "train/accuracy", "train/loss"]

/// When checkpoints are written and which are kept.
public struct CheckpointSpec: Sendable, Equatable {
    public var everyEpochs: Int
    /// The newest this many are kept…
    public var keepLast: Int
    /// …and the best by this metric (nil: none kept for being best).
    public var keepBest: String?

    public init(everyEpochs: Int, keepLast: Int, keepBest: String?) {
        self.everyEpochs = everyEpochs; self.keepLast = keepLast; self.keepBest = keepBest
    }

    public static let standard = CheckpointSpec(everyEpochs: 1, keepLast: 3, keepBest: "val/accuracy")
}

/// Stop when `metric` has not improved by more than `minDelta` for `patience` epochs.
public struct EarlyStoppingSpec: Sendable, Equatable {
    public var metric: String
    /// "max" or "min"; by default max for accuracy, min for loss.
    public var mode: String
    public var patience: Int
    public var minDelta: Double

    public init(metric: String, mode: String, patience: Int, minDelta: Double) {
        self.metric = metric; self.mode = mode; self.patience = patience; self.minDelta = minDelta
    }
}

/// Whether larger is better for a metric.
public func metricIncreases(_ metric: String) -> Bool { metric.hasSuffix("accuracy") }

/// Which dataset, and how to split it.
public struct DataSpec: Sendable {
    public static let datasets = ["digits", "xo", "cifar10", "mnist", "fashion_mnist", "image_folder"]
    public var dataset: String
    /// Where the files are (datasets that read files).
    public var root: String?
    /// cifar10: where to download the archive from when the files are missing, and its SHA-256
    /// (nil: the public archive and its digest).
    public var url: String?
    public var sha256: String?
    /// mnist, fashion_mnist: file name → SHA-256, overriding the published digests.
    public var checksums: [String: String]
    /// image_folder: the test split's folder (same class folders), and how images of another
    /// size fit the model's input: `stretch` or `crop`.
    public var testRoot: String?
    public var fit: String
    public var rootLocation: SpecLocation?
    /// Held-out examples for validation: a count, or a fraction of the training set when < 1.
    public var validation: Double
    /// A new order of the training examples each epoch (from the seed), or the file's order.
    public var shuffle: Bool
    /// `xo` only: examples to generate, image side, pixel noise.
    public var samples: Int
    public var size: Int
    public var noise: Double
    /// Random changes to each training image, drawn from (seed, epoch, position): reproducible.
    public var augment: AugmentSpec
    /// Per-channel normalisation of every split: none, statistics of the training split, or given.
    public var normalize: NormalizeSpec
    /// When the test split is evaluated: never, after the last epoch, or after every epoch (for
    /// reporting only: the best checkpoint and early stopping look at validation alone).
    public var test: String
    public var location: SpecLocation
    public var validationLocation: SpecLocation
    public static let testModes = ["never", "final", "every_epoch"]
}

/// Training-time augmentation, applied to each image of a batch.
public struct AugmentSpec: Sendable, Equatable {
    /// Pad this many zero pixels on each side, then crop a random window of the original size.
    public var crop: Int = 0
    /// Mirror left–right with probability ½.
    public var flip: Bool = false
    /// Zero a square of this side at a random centre (it may overlap the border); 0 = off.
    public var cutout: Int = 0
    public var isActive: Bool { crop > 0 || flip || cutout > 0 }
    public init(crop: Int = 0, flip: Bool = false, cutout: Int = 0) { self.crop = crop; self.flip = flip; self.cutout = cutout }
}

public enum NormalizeSpec: Sendable, Equatable {
    case none
    /// Mean and standard deviation per channel of the training split (after validation is held out).
    case auto
    case given(mean: [Double], std: [Double])
}

/// The loss applied to the model's last layer.
public struct LossSpec: Sendable {
    public static let kinds = ["softmax_cross_entropy"]
    public var kind: String
    public var labelSmoothing: Double
}

/// Epochs, batches, optimizer and learning-rate schedule.
public struct TrainSpec: Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: OptimizerSpec
    public var schedule: ScheduleSpec
    /// Console and metric interval in steps.
    public var logEverySteps: Int
    /// Threads for BLAS and kernels; 0 means every core.
    public var threads: Int
    /// Number format of the matrix products: `auto` (bf16 where the CPU has AVX512-BF16, else
    /// fp32), `fp32` or `bf16` (mixed precision). Kept as written: `auto` resolves per machine.
    public var precision: String
    public var precisionLocation: SpecLocation?
}

public enum OptimizerSpec: Sendable, Equatable {
    /// PyTorch's SGD: momentum, Nesterov and L2 weight decay.
    case sgd(learningRate: Double, momentum: Double, nesterov: Bool, weightDecay: Double)
    /// Adam with L2 weight decay added to the gradient (`adam`) or decoupled (`adamw`).
    case adam(learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double, decoupled: Bool)

    public var isAdam: Bool { if case .adam = self { true } else { false } }

    public var learningRate: Double {
        switch self {
        case .sgd(let lr, _, _, _), .adam(let lr, _, _, _, _, _): lr
        }
    }
}

public enum ScheduleSpec: Sendable, Equatable {
    case constant
    /// At each epoch in `atEpochs` the rate becomes base·factor^k, or the k-th of `values`.
    case steps(atEpochs: [Int], factor: Double?, values: [Double]?)
    /// Linear warm-up from 0 over `warmupEpochs`, then cosine decay to `minimum` at the end.
    case cosine(warmupEpochs: Double, minimum: Double)
    /// Linear warm-up from `start` to the base rate over `warmupEpochs`, then a straight line
    /// down to `minimum` at the end (the schedule of ../shared/bench's modern TF recipe).
    case linear(warmupEpochs: Double, start: Double, minimum: Double)
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
            throw SpecError(node.location, "the file name gives the run name '\(name)', which cannot name a run directory",
                            hint: "add a name: to the file (letters, digits and _ . - = ,), or rename the file")
        }
        seed = try map.int("seed", default: 0)
        guard let modelNode = map["model"] else { throw map.missing("model") }
        if let path = modelNode.scalarText, !modelNode.isNull {
            let resolved = path.hasPrefix("/") ? path : (directory as NSString).appendingPathComponent(path)
            guard FileManager.default.fileExists(atPath: resolved) else {
                throw SpecError(modelNode.location, "model file '\(resolved)' does not exist", hint: "model: is a path relative to this file's folder, or an inline mapping with input: and layers:")
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
        let map = try node.mapping("checkpoint", allowed: ["every_epochs", "keep_last", "keep_best"])
        everyEpochs = try map.int("every_epochs", default: 1, atLeast: 1)
        keepLast = try map.int("keep_last", default: 3, atLeast: 1)
        if let best = map["keep_best"], best.isNull || best.scalarText == "none" {
            keepBest = nil
        } else {
            keepBest = try map.choice("keep_best", default: "val/accuracy", allowed: metricNames + ["none"])
        }
    }
}

extension TensorBoardSpec {
    init(_ node: SpecNode?) throws(SpecError) {
        guard let node, !node.isNull else { self = .standard; return }
        if node.scalarText == "false" || node.scalarText == "off" { self = .standard; enabled = false; return }
        let map = try node.mapping("tensorboard", allowed: ["enabled", "scalars_every_steps", "histograms_every_epochs", "images_every_epochs", "graph", "text"])
        let d = TensorBoardSpec.standard
        enabled = try map.bool("enabled", default: d.enabled)
        scalarsEverySteps = try map.int("scalars_every_steps", default: d.scalarsEverySteps, atLeast: 0)
        histogramsEveryEpochs = try map.int("histograms_every_epochs", default: d.histogramsEveryEpochs, atLeast: 0)
        imagesEveryEpochs = try map.int("images_every_epochs", default: d.imagesEveryEpochs, atLeast: 0)
        graph = try map.bool("graph", default: d.graph)
        text = try map.bool("text", default: d.text)
    }
}

extension EarlyStoppingSpec {
    init(_ node: SpecNode) throws(SpecError) {
        let map = try node.mapping("early_stopping", allowed: ["metric", "mode", "patience", "min_delta"])
        metric = try map.choice("metric", default: "val/accuracy", allowed: metricNames)
        mode = try map.choice("mode", default: metricIncreases(metric) ? "max" : "min", allowed: ["max", "min"])
        patience = try map.int("patience", default: 5, atLeast: 1)
        minDelta = try map.double("min_delta", default: 0, in: 0 ... 1e9, example: "0.001")
    }
}

extension DataSpec {
    init(_ node: SpecNode) throws(SpecError) {
        location = node.location
        // Dataset first, so that its own keys can be checked.
        let common = ["dataset", "validation", "shuffle", "augment", "normalize", "test"]
        let probe = try node.mapping("data", allowed: common + ["root", "url", "sha256", "test_root", "fit", "samples", "size", "noise"])
        dataset = try probe.choice("dataset", default: nil, allowed: DataSpec.datasets)
        var allowed = common
        switch dataset {
        case "xo": allowed += ["samples", "size", "noise"]
        case "cifar10", "mnist", "fashion_mnist": allowed += ["root", "url", "sha256"]
        case "image_folder": allowed += ["root", "test_root", "fit"]
        default: break
        }
        let map = try node.mapping("data (\(dataset))", allowed: allowed)
        let readsFiles = ["cifar10", "mnist", "fashion_mnist", "image_folder"].contains(dataset)
        root = readsFiles ? try map.string("root", default: dataset == "image_folder" ? nil : "data/\(dataset)") : nil
        rootLocation = map["root"]?.location
        testRoot = dataset == "image_folder" && map["test_root"] != nil ? try map.string("test_root", default: nil) : nil
        fit = dataset == "image_folder" ? try map.choice("fit", default: "stretch", allowed: ["stretch", "crop"]) : "stretch"
        url = map["url"] == nil ? nil : try map.string("url", default: nil)
        checksums = [:]
        sha256 = nil
        if let node = map["sha256"], !node.isNull {
            func checked(_ node: SpecNode, _ text: String) throws(SpecError) -> String {
                guard text.count == 64, text.allSatisfy(\.isHexDigit) else {
                    throw SpecError(node.location, "'sha256' must be 64 hexadecimal digits, got '\(text)'", hint: "copy the digest printed by `sha256sum FILE`")
                }
                return text.lowercased()
            }
            if dataset == "cifar10" {
                sha256 = try checked(node, try map.string("sha256", default: nil))
            } else {
                // One digest per file: {train-images-idx3-ubyte.gz: ..., ...}; the others keep the published ones.
                let files = ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
                let digests = try node.mapping("sha256", allowed: files)
                for file in files { if let entry = digests[file] { checksums[file] = try checked(entry, try digests.string(file, default: nil)) } }
            }
        }
        validation = try map.double("validation", default: dataset == "cifar10" || dataset.hasSuffix("mnist") ? 5000 : 0.2)
        validationLocation = map["validation"]?.location ?? node.location
        shuffle = try map.bool("shuffle", default: true)
        guard validation > 0 else {
            throw SpecError(map["validation"]!.location, "'validation' must be positive, got \(validation)", hint: "a count of examples (5000) or a fraction (0.2)")
        }
        // At most 1,000,000 glyphs of at most 64×64: 16 GB of pixels at the extremes, so the
        // product is capped too (100 million pixels, 400 MB).
        samples = dataset == "xo" ? try map.int("samples", default: 2000, in: 10 ... 1_000_000) : 0
        size = dataset == "xo" ? try map.int("size", default: 12, in: 7 ... 64) : 0
        if samples * size * size > 100_000_000 {
            throw SpecError(map["samples"]?.location ?? map.location, "\(samples) samples of \(size)×\(size) are \(samples * size * size) pixels; xo generates at most 100,000,000",
                            hint: "use fewer samples or a smaller size")
        }
        noise = dataset == "xo" ? try map.double("noise", default: 0.2, in: 0 ... 2, example: "0.2") : 0
        test = try map.choice("test", default: "never", allowed: DataSpec.testModes)
        if test != "never" && (!readsFiles || (dataset == "image_folder" && testRoot == nil)) {
            throw SpecError(map["test"]!.location, "\(dataset) has no test split", hint: dataset == "image_folder" ? "set data.test_root to the test images' folder" : "remove 'test'")
        }
        augment = AugmentSpec()
        if let node = map["augment"], !node.isNull {
            let options = try node.mapping("augment", allowed: ["crop", "flip", "cutout"])
            augment.crop = try options.int("crop", default: 0, atLeast: 0)
            augment.flip = try options.bool("flip", default: false)
            augment.cutout = try options.int("cutout", default: 0, atLeast: 0)
            guard augment.crop <= 64, augment.cutout <= 1024 else {
                throw SpecError(node.location, "'crop' must be at most 64 and 'cutout' at most 1024 pixels", hint: "for example augment: {crop: 4, flip: true}")
            }
        }
        normalize = .none
        if let node = map["normalize"], !node.isNull {
            if let word = node.scalarText {
                switch word {
                case "none", "false": normalize = .none
                case "auto": normalize = .auto
                default: throw SpecError(node.location, "'normalize' cannot be '\(word)'", hint: "none, auto, or {mean: [...], std: [...]} with one number per channel")
                }
            } else {
                let options = try node.mapping("normalize", allowed: ["mean", "std"])
                guard let meanNode = options["mean"] else { throw options.missing("mean") }
                guard let stdNode = options["std"] else { throw options.missing("std") }
                var mean: [Double] = [], std: [Double] = []
                for entry in try meanNode.sequence("mean") { mean.append(try entry.double("mean")) }
                for entry in try stdNode.sequence("std") {
                    let value = try entry.double("std")
                    guard value > 0 else { throw SpecError(entry.location, "'std' must be positive, got \(value)", hint: "for example std: [0.247, 0.243, 0.261]") }
                    std.append(value)
                }
                guard mean.count == std.count, !mean.isEmpty else {
                    throw SpecError(stdNode.location, "'mean' and 'std' need one number per channel each, got \(mean.count) and \(std.count)", hint: "for example mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26]")
                }
                normalize = .given(mean: mean, std: std)
            }
        }
    }
}

extension LossSpec {
    init(_ node: SpecNode?) throws(SpecError) {
        guard let node, !node.isNull else { kind = "softmax_cross_entropy"; labelSmoothing = 0; return }
        let (kind, optionsNode) = try variant(node, "loss", kinds: LossSpec.kinds)
        self.kind = kind
        let options = try optionsNode.mapping(kind, allowed: ["label_smoothing"])
        labelSmoothing = try options.double("label_smoothing", default: 0, in: 0 ... 0.999, example: "0.1")
    }
}

extension TrainSpec {
    static let keys = ["epochs", "batch_size", "optimizer", "schedule", "log_every_steps", "threads", "precision"]
    public static let precisions = ["auto", "fp32", "bf16"]

    init(_ node: SpecNode?, location: SpecLocation) throws(SpecError) {
        let map = try (node ?? SpecNode(node: "", file: location.file)).mapping("train", allowed: TrainSpec.keys)
        epochs = try map.int("epochs", default: 10, atLeast: 1)
        batchSize = try map.int("batch_size", default: 32, atLeast: 1)
        guard batchSize <= 65536 else {
            throw SpecError(map["batch_size"]!.location, "'batch_size' must be at most 65536, got \(batchSize)", hint: "for example batch_size: 128")
        }
        optimizer = try OptimizerSpec(map["optimizer"])
        schedule = try ScheduleSpec(map["schedule"], epochs: epochs)
        logEverySteps = try map.int("log_every_steps", default: 50, atLeast: 1)
        threads = try map.int("threads", default: 0, atLeast: 0)
        precision = try map.choice("precision", default: "auto", allowed: TrainSpec.precisions)
        precisionLocation = map["precision"]?.location
    }
}

/// Reads a one-key mapping `{kind: {options}}` or a bare `kind`; returns the kind and options.
func variant(_ node: SpecNode, _ what: String, kinds: [String]) throws(SpecError) -> (String, SpecNode) {
    if let text = node.scalarText, !node.isNull {
        guard kinds.contains(text) else {
            let known = "one of: \(kinds.joined(separator: ", "))"
            throw SpecError(node.location, "unknown \(what) '\(text)'", hint: suggestion(for: text, among: kinds).map { "did you mean '\($0)'? \(known)" } ?? known)
        }
        return (text, SpecNode(node: "", file: node.file))
    }
    let map = try node.mapping(what, allowed: kinds)
    guard map.keys.count == 1 else {
        throw SpecError(node.location, "'\(what)' names exactly one of: \(kinds.joined(separator: ", "))", hint: "for example \(what): {\(kinds[0]): {...}}")
    }
    return (map.keys[0], map[map.keys[0]]!)
}

extension OptimizerSpec {
    init(_ node: SpecNode?) throws(SpecError) {
        guard let node, !node.isNull else {
            self = .adam(learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0, decoupled: false)
            return
        }
        let (kind, optionsNode) = try variant(node, "optimizer", kinds: ["adam", "adamw", "sgd"])
        switch kind {
        case "sgd":
            let map = try optionsNode.mapping("sgd", allowed: ["lr", "momentum", "nesterov", "weight_decay"])
            self = .sgd(learningRate: try map.double("lr", default: 0.01, in: 0 ... 1e300, example: "0.01"),
                        momentum: try map.double("momentum", default: 0.9, in: 0 ... 0.999999, example: "0.9"),
                        nesterov: try map.bool("nesterov", default: false),
                        weightDecay: try map.double("weight_decay", default: 0, in: 0 ... 1, example: "0.0005"))
        default:
            let map = try optionsNode.mapping(kind, allowed: ["lr", "beta1", "beta2", "epsilon", "weight_decay"])
            self = .adam(learningRate: try map.double("lr", default: 1e-3, in: 0 ... 1e300, example: "0.001"),
                         beta1: try map.double("beta1", default: 0.9, in: 0 ... 0.999999, example: "0.9"),
                         beta2: try map.double("beta2", default: 0.999, in: 0 ... 0.999999999, example: "0.999"),
                         epsilon: try map.double("epsilon", default: 1e-8, in: 1e-30 ... 1, example: "1.0e-8"),
                         weightDecay: try map.double("weight_decay", default: kind == "adamw" ? 0.01 : 0, in: 0 ... 1, example: "0.01"),
                         decoupled: kind == "adamw")
        }
    }
}

extension ScheduleSpec {
    init(_ node: SpecNode?, epochs: Int) throws(SpecError) {
        guard let node, !node.isNull else { self = .constant; return }
        let (kind, optionsNode) = try variant(node, "schedule", kinds: ["constant", "steps", "cosine", "linear"])
        switch kind {
        case "constant":
            _ = try optionsNode.mapping("constant", allowed: [])
            self = .constant
        case "steps":
            let map = try optionsNode.mapping("steps", allowed: ["at_epochs", "factor", "values"])
            guard let atNode = map["at_epochs"] else { throw map.missing("at_epochs") }
            var at: [Int] = []
            for entry in try atNode.sequence("at_epochs") {
                let epoch = try entry.int("at_epochs")
                guard epoch >= 1, at.last.map({ epoch > $0 }) ?? true else {
                    throw SpecError(entry.location, "'at_epochs' must be increasing epochs ≥ 1, got \(epoch)", hint: "for example at_epochs: [21, 41]")
                }
                at.append(epoch)
            }
            if let valuesNode = map["values"] {
                guard map["factor"] == nil else {
                    throw SpecError(valuesNode.location, "'steps' takes either 'factor' or 'values', not both", hint: "remove one of them")
                }
                var values: [Double] = []
                for entry in try valuesNode.sequence("values") { values.append(try entry.double("values")) }
                guard values.count == at.count else {
                    throw SpecError(valuesNode.location, "'values' needs one rate per entry of 'at_epochs' (\(at.count)), got \(values.count)", hint: "for example at_epochs: [21, 41] with values: [1.0e-4, 1.0e-5]")
                }
                self = .steps(atEpochs: at, factor: nil, values: values)
            } else {
                self = .steps(atEpochs: at, factor: try map.double("factor", default: 0.1, in: 0 ... 1, example: "0.1"), values: nil)
            }
        case "linear":
            let map = try optionsNode.mapping("linear", allowed: ["warmup_epochs", "start_lr", "min_lr"])
            let warmup = try map.double("warmup_epochs", default: 0, in: 0 ... Double(epochs), example: "2")
            self = .linear(warmupEpochs: warmup, start: try map.double("start_lr", default: 0, in: 0 ... 100, example: "1.0e-4"),
                           minimum: try map.double("min_lr", default: 0, in: 0 ... 100, example: "0"))
        default:
            let map = try optionsNode.mapping("cosine", allowed: ["warmup_epochs", "min_lr"])
            let warmup = try map.double("warmup_epochs", default: 0, in: 0 ... Double(epochs), example: "1")
            self = .cosine(warmupEpochs: warmup, minimum: try map.double("min_lr", default: 0, in: 0 ... 100, example: "0"))
        }
    }

    /// The learning rate at a (fractional) epoch, 0-based, for a base rate.
    public func learningRate(base: Double, epoch: Double, totalEpochs: Int) -> Double {
        switch self {
        case .constant:
            return base
        case let .steps(at, factor, values):
            // The rate changes once `at` epochs have finished: at_epochs: [21] gives epochs
            // 0–20 the base rate and epoch 21 on (the 22nd) the next one.
            let passed = at.filter { epoch >= Double($0) }.count
            guard passed > 0 else { return base }
            if let values { return values[passed - 1] }
            return base * pow(factor ?? 0.1, Double(passed))
        case let .cosine(warmup, minimum):
            if epoch < warmup { return base * epoch / warmup }
            let span = max(Double(totalEpochs) - warmup, 1e-9)
            let progress = min(max((epoch - warmup) / span, 0), 1)
            return minimum + (base - minimum) * 0.5 * (1 + cos(Double.pi * progress))
        case let .linear(warmup, start, minimum):
            if epoch < warmup { return start + (base - start) * epoch / warmup }
            let span = max(Double(totalEpochs) - warmup, 1e-9)
            let progress = min(max((epoch - warmup) / span, 0), 1)
            return base + (minimum - base) * progress
        }
    }
}

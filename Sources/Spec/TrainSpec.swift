import Foundation
import Kernels
import Layers
import Tensor

/// The loss applied to the model's last layer.
public struct LossSpec: Sendable {
    /// The losses runner computes (Kernels/Loss.swift). One so far; a second needs a case here
    /// and a `switch` where Plan computes the loss.
    public enum Kind: String, CaseIterable, Sendable {
        /// softmax over the last layer's outputs, then −log p(label), optionally against
        /// smoothed labels.
        case softmaxCrossEntropy = "softmax_cross_entropy"
    }
    public var kind: Kind
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
    public var precision: PrecisionSetting
    public var precisionLocation: SpecLocation?
    /// Optimizer settings for some parameters (`train.groups`); the first group whose pattern
    /// matches a parameter applies to it, the others follow `optimizer` alone.
    public var groups: [ParameterGroup] = []
    /// Lookahead averaging of the weights (`train.lookahead`), or nil.
    public var lookahead: LookaheadSpec?
}

/// `train.lookahead: {every: 5, decay: 0.95, power: 3}`: every `every` steps the weights are
/// averaged into a running copy with weight d = decay^every · (t/T)^power and set to it.
public struct LookaheadSpec: Sendable, Equatable {
    public var every: Int
    public var decay: Double
    public var power: Double
    public init(every: Int = 5, decay: Double = 0.95, power: Double = 3) { self.every = every; self.decay = decay; self.power = power }
}

/// `train.groups` entry: parameters by name pattern and how their updates differ.
public struct ParameterGroup: Sendable, Equatable {
    /// A pattern over parameter names `layer/parameter` (`conv1/weight`, `bn2/beta`): `*` any run
    /// of characters, `?` one.
    public var parameters: String
    /// Multiplies the learning rate (the schedule's, at every step).
    public var learningRateScale = 1.0
    /// Multiplies the weight decay. Unset (nil), the optimizer's applies to weights and not to
    /// biases or normalisation parameters; set, it applies to every parameter the group matches,
    /// biases too (airbench decays its batchnorm biases).
    public var weightDecayScale: Double?
    /// Trained during the first this many epochs only, then left as they are (nil: all).
    public var epochs: Int?
    public var location: SpecLocation

    public init(parameters: String, learningRateScale: Double = 1, weightDecayScale: Double? = nil, epochs: Int? = nil, location: SpecLocation) {
        self.parameters = parameters; self.learningRateScale = learningRateScale; self.weightDecayScale = weightDecayScale
        self.epochs = epochs; self.location = location
    }

    /// Whether `name` matches `parameters`.
    public func matches(_ name: String) -> Bool { ParameterGroup.glob(Array(parameters), Array(name)) }

    static func glob(_ pattern: [Character], _ text: [Character]) -> Bool {
        // Iterative wildcard match: the last `*` seen absorbs one more character on a mismatch.
        var p = 0, t = 0, star = -1, resume = 0
        while t < text.count {
            if p < pattern.count && (pattern[p] == "?" || pattern[p] == text[t]) {
                p += 1; t += 1
            } else if p < pattern.count && pattern[p] == "*" {
                star = p; resume = t; p += 1
            } else if star >= 0 {
                p = star + 1; resume += 1; t = resume
            } else {
                return false
            }
        }
        while p < pattern.count && pattern[p] == "*" { p += 1 }
        return p == pattern.count
    }
}

public enum OptimizerSpec: Sendable, Equatable {
    /// PyTorch's SGD: momentum, Nesterov and L2 weight decay.
    case sgd(learningRate: Double, momentum: Double, nesterov: Bool, weightDecay: Double)
    /// Adam with L2 weight decay added to the gradient (`adam`) or decoupled (`adamw`).
    case adam(learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double, decoupled: Bool)

    /// Tensors of state the optimizer keeps per parameter: SGD's velocity; Adam's first and
    /// second moments. (The one count the optimizer allocates and the memory check adds up.)
    public var stateTensors: Int {
        switch self {
        case .sgd: 1
        case .adam: 2
        }
    }

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

extension LossSpec {
    init(_ node: SpecNode?) throws(SpecError) {
        guard let node, !node.isNull else { kind = .softmaxCrossEntropy; labelSmoothing = 0; return }
        let declared = Declarations.loss
        let (name, optionsNode) = try variant(node, "loss", kinds: declared.variantNames)
        kind = Kind(rawValue: name)!
        let options = try optionsNode.mapping(name, declared: declared, variant: name)
        labelSmoothing = try options.double(declared["label_smoothing", variant: name])
    }
}

extension TrainSpec {
    init(_ node: SpecNode?, location: SpecLocation) throws(SpecError) {
        let declared = Declarations.train
        let map = try (node ?? SpecNode(node: "", file: location.file)).mapping("train", declared: declared)
        epochs = try map.int(declared["epochs"])
        // Declared 1...65536; at least 1 first, then the cap with a message of its own.
        batchSize = try map.int("batch_size", default: declared["batch_size"].defaultValue?.intValue, atLeast: 1)
        guard batchSize <= 65536 else {
            throw SpecError(map["batch_size"]!.location, "'batch_size' must be at most 65536, got \(batchSize)", hint: "for example batch_size: 128")
        }
        optimizer = try OptimizerSpec(map["optimizer"])
        schedule = try ScheduleSpec(map["schedule"], epochs: epochs)
        logEverySteps = try map.int(declared["log_every_steps"])
        threads = try map.int(declared["threads"])
        precision = try map.choice(declared["precision"])
        precisionLocation = map["precision"]?.location
        if let node = map["lookahead"], !node.isNull {
            let lookahead = declared["lookahead"]
            let options = try node.mapping("lookahead", declared: lookahead)
            self.lookahead = LookaheadSpec(
                every: try options.int(lookahead["every"]), decay: try options.double(lookahead["decay"]), power: try options.double(lookahead["power"]))
        }
        if let node = map["groups"], !node.isNull {
            for entry in try node.sequence("groups") {
                let group = try entry.mapping("a group", declared: declared["groups"])
                guard group["parameters"] != nil else { throw group.missing("parameters") }
                groups.append(
                    ParameterGroup(
                        parameters: try group.string("parameters", default: nil),
                        learningRateScale: try group.double(declared["groups"]["lr_scale"]),
                        weightDecayScale: group["weight_decay_scale"] == nil
                            ? nil : try group.double("weight_decay_scale", default: nil, in: 0 ... 1e6, example: "0"),
                        epochs: group["epochs"] == nil ? nil : try group.int("epochs", default: nil, atLeast: 1), location: entry.location))
            }
        }
    }
}

/// Reads a one-key mapping `{kind: {options}}` or a bare `kind`; returns the kind and options.
func variant(_ node: SpecNode, _ what: String, kinds: [String]) throws(SpecError) -> (String, SpecNode) {
    if let text = node.scalarText, !node.isNull {
        guard kinds.contains(text) else {
            let known = "one of: \(kinds.joined(separator: ", "))"
            throw SpecError(
                node.location, "unknown \(what) '\(text)'", hint: suggestion(for: text, among: kinds).map { "did you mean '\($0)'? \(known)" } ?? known)
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
        let declared = Declarations.optimizer
        let (kind, optionsNode) = try variant(node, "optimizer", kinds: declared.variantNames)
        let map = try optionsNode.mapping(kind, declared: declared, variant: kind)
        func option(_ key: String) -> SpecKey { declared[key, variant: kind] }
        switch kind {
        case "sgd":
            self = .sgd(
                learningRate: try map.double(option("lr")), momentum: try map.double(option("momentum")), nesterov: try map.bool(option("nesterov")),
                weightDecay: try map.double(option("weight_decay")))
        default:
            // Declared without a default: adam's is 0, adamw's 0.01 (decoupled decay).
            self = .adam(
                learningRate: try map.double(option("lr")), beta1: try map.double(option("beta1")), beta2: try map.double(option("beta2")),
                epsilon: try map.double(option("epsilon")),
                weightDecay: try map.double(option("weight_decay"), default: kind == "adamw" ? 0.01 : 0),
                decoupled: kind == "adamw")
        }
    }
}

extension ScheduleSpec {
    init(_ node: SpecNode?, epochs: Int) throws(SpecError) {
        guard let node, !node.isNull else { self = .constant; return }
        let declared = Declarations.schedule
        let (kind, optionsNode) = try variant(node, "schedule", kinds: declared.variantNames)
        let map = try optionsNode.mapping(kind, declared: declared, variant: kind)
        func option(_ key: String) -> SpecKey { declared[key, variant: kind] }
        switch kind {
        case "constant":
            self = .constant
        case "steps":
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
                    throw SpecError(
                        valuesNode.location, "'values' needs one rate per entry of 'at_epochs' (\(at.count)), got \(values.count)",
                        hint: "for example at_epochs: [21, 41] with values: [1.0e-4, 1.0e-5]")
                }
                self = .steps(atEpochs: at, factor: nil, values: values)
            } else {
                self = .steps(atEpochs: at, factor: try map.double(option("factor")), values: nil)
            }
        default:
            // The warm-up is declared ≥ 0; it cannot outlast the run.
            let warmup = try map.double("warmup_epochs", default: 0, in: 0 ... Double(epochs), example: option("warmup_epochs").example)
            self =
                kind == "linear"
                ? .linear(warmupEpochs: warmup, start: try map.double(option("start_lr")), minimum: try map.double(option("min_lr")))
                : .cosine(warmupEpochs: warmup, minimum: try map.double(option("min_lr")))
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

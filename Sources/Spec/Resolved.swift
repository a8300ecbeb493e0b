import Foundation
import Layers
import Tensor
import Yams

/// The resolved spec: every key with its value, defaults filled in, model inlined. This is what
/// a run writes as config.yaml, so that the run can be reproduced from its own folder.
extension ExperimentSpec {
    public func resolvedYAML() -> String {
        let document: Node = mapping([
            ("name", scalar(name)),
            ("seed", scalar(seed)),
            ("model", model.resolvedNode()),
            ("data", data.resolvedNode()),
            ("loss", mapping([(loss.kind.rawValue, mapping([("label_smoothing", scalar(loss.labelSmoothing))]))])),
            ("train", train.resolvedNode()),
            (
                "checkpoint",
                mapping([
                    ("every_epochs", scalar(checkpoint.everyEpochs)), ("keep_last", scalar(checkpoint.keepLast)),
                    ("keep_best", scalar(checkpoint.keepBest?.rawValue ?? "none")),
                ])
            ),
            (
                "early_stopping",
                earlyStopping.map {
                    mapping([
                        ("metric", scalar($0.metric.rawValue)), ("mode", scalar($0.mode.rawValue)),
                        ("patience", scalar($0.patience)), ("min_delta", scalar($0.minDelta)),
                    ])
                } ?? Node("null")
            ),
            (
                "tensorboard",
                mapping([
                    ("enabled", scalar(tensorboard.enabled)), ("scalars_every_steps", scalar(tensorboard.scalarsEverySteps)),
                    ("histograms_every_epochs", scalar(tensorboard.histogramsEveryEpochs)),
                    ("images_every_epochs", scalar(tensorboard.imagesEveryEpochs)),
                    ("graph", scalar(tensorboard.graph)), ("text", scalar(tensorboard.text)),
                ])
            ),
        ])
        return (try? Yams.serialize(node: document, indent: 2, width: 120, sortKeys: false)) ?? ""
    }

    /// Identifies the data a run trains on (dataset, its options and the split's seed), so that
    /// sweep points on the same data share one load.
    public var resolvedDataKey: String {
        // The model's input is part of the key: an image_folder's images are fitted to it, so two
        // sweep points that differ only in `model.input` read different data.
        (try? Yams.serialize(node: data.resolvedNode())).map { $0 + "seed: \(seed)\ninput: \(model.input.dimensions)" } ?? UUID().uuidString
    }

    /// The main hyperparameters of a run, under the dotted keys a sweep would vary them by
    /// (for TensorBoard's HPARAMS; a sweep's varied keys are added to these).
    public var hyperparameters: [(String, String)] {
        var result: [(String, String)] = [
            ("seed", String(seed)), ("data.dataset", data.dataset),
            ("train.epochs", String(train.epochs)), ("train.batch_size", String(train.batchSize)),
        ]
        switch train.optimizer {
        case let .sgd(lr, momentum, _, wd):
            result += [
                ("train.optimizer", "sgd"), ("train.optimizer.sgd.lr", String(lr)), ("train.optimizer.sgd.momentum", String(momentum)),
                ("train.optimizer.sgd.weight_decay", String(wd)),
            ]
        case let .adam(lr, _, _, _, wd, decoupled):
            let kind = decoupled ? "adamw" : "adam"
            result += [("train.optimizer", kind), ("train.optimizer.\(kind).lr", String(lr)), ("train.optimizer.\(kind).weight_decay", String(wd))]
        }
        return result
    }
}

func scalar(_ value: String) -> Node {
    // Quote words that YAML would read as something else (numbers, booleans, null).
    let plainIsString = Int(value) == nil && Double(value) == nil && !["true", "false", "null", "~", "", "yes", "no"].contains(value.lowercased())
    return Node(value, .implicit, plainIsString ? .plain : .singleQuoted)
}
func scalar(_ value: Int) -> Node { Node(String(value)) }
func scalar(_ value: Double) -> Node {
    // Always with a '.' before any exponent (1.0e-08, not 1e-08): YAML 1.1 readers such as
    // PyYAML take a number without one for a string.
    var text = "\(value)"
    if !text.contains(".") {
        if let exponent = text.firstIndex(of: "e") { text.insert(contentsOf: ".0", at: exponent) } else { text += ".0" }
    }
    return Node(text)
}
func scalar(_ value: Bool) -> Node { Node(value ? "true" : "false") }
func flow(_ nodes: [Node]) -> Node { .sequence(.init(nodes, .implicit, .flow)) }

extension ModelSpec {
    func resolvedNode() -> Node {
        let layerNodes: [Node] = layers.map { layer in
            var pairs: [(String, Node)] = []
            if let name = layer.name { pairs.append(("name", scalar(name))) }
            if let inputs = layer.inputs { pairs.append(("inputs", flow(inputs.map { scalar($0.name) }))) }
            for (key, value) in layer.layer.resolvedOptions {
                let node: Node
                switch value {
                case .int(let v): node = scalar(v)
                case .double(let v): node = scalar(v)
                case .string(let v): node = scalar(v)
                case .bool(let v): node = scalar(v)
                }
                pairs.append((key, node))
            }
            return mapping([(layer.kind, mapping(pairs, flow: true))])
        }
        return mapping([("input", flow(input.dimensions.map(scalar))), ("layers", .sequence(.init(layerNodes)))])
    }
}

extension DataSpec {
    func resolvedNode() -> Node {
        var pairs: [(String, Node)] = [("dataset", scalar(dataset))]
        if let root { pairs.append(("root", scalar(root))) }
        if let testRoot { pairs.append(("test_root", scalar(testRoot))) }
        let keys = kind.keys
        if keys.contains("fit") { pairs.append(("fit", scalar(fit.rawValue))) }
        if let url { pairs.append(("url", scalar(url))) }
        if let sha256 { pairs.append(("sha256", scalar(sha256))) }
        if !checksums.isEmpty { pairs.append(("sha256", mapping(checksums.sorted { $0.key < $1.key }.map { ($0.key, scalar($0.value)) }))) }
        pairs.append(("validation", scalar(validation)))
        pairs.append(("shuffle", scalar(shuffle)))
        if keys.contains("samples") { pairs.append(("samples", scalar(samples))) }
        if keys.contains("size") { pairs.append(("size", scalar(size))) }
        if keys.contains("noise") { pairs.append(("noise", scalar(noise))) }
        var augmentation: [(String, Node)] = [("crop", scalar(augment.crop))]
        // (translate only when set: config.yaml of runs made before it existed stays the same)
        if augment.translate > 0 { augmentation.append(("translate", scalar(augment.translate))) }
        let flip = augment.flip == .alternating ? scalar(augment.flip.rawValue) : scalar(augment.flip == .random)  // true/false as YAML booleans
        augmentation += [("flip", flip), ("cutout", scalar(augment.cutout))]
        pairs.append(("augment", mapping(augmentation, flow: true)))
        switch normalize {
        case .none: pairs.append(("normalize", scalar("none")))
        case .auto: pairs.append(("normalize", scalar("auto")))
        case let .given(mean, std):
            pairs.append(("normalize", mapping([("mean", flow(mean.map(scalar))), ("std", flow(std.map(scalar)))], flow: true)))
        }
        pairs.append(("test", scalar(test.rawValue)))
        if tta != .none { pairs.append(("tta", scalar(tta.rawValue))) }  // (only when set: older config.yaml files stay the same)
        return mapping(pairs)
    }
}

extension TrainSpec {
    func resolvedNode() -> Node {
        let optimizerNode: Node
        switch optimizer {
        case let .sgd(lr, momentum, nesterov, wd):
            optimizerNode = mapping([
                (
                    "sgd",
                    mapping([("lr", scalar(lr)), ("momentum", scalar(momentum)), ("nesterov", scalar(nesterov)), ("weight_decay", scalar(wd))], flow: true)
                )
            ])
        case let .adam(lr, b1, b2, eps, wd, decoupled):
            optimizerNode = mapping([
                (
                    decoupled ? "adamw" : "adam",
                    mapping(
                        [("lr", scalar(lr)), ("beta1", scalar(b1)), ("beta2", scalar(b2)), ("epsilon", scalar(eps)), ("weight_decay", scalar(wd))], flow: true)
                )
            ])
        }
        let scheduleNode: Node
        switch schedule {
        case .constant: scheduleNode = scalar("constant")
        case let .steps(at, factor, values):
            var pairs: [(String, Node)] = [("at_epochs", flow(at.map(scalar)))]
            if let factor { pairs.append(("factor", scalar(factor))) }
            if let values { pairs.append(("values", flow(values.map(scalar)))) }
            scheduleNode = mapping([("steps", mapping(pairs, flow: true))])
        case let .cosine(warmup, minimum):
            scheduleNode = mapping([("cosine", mapping([("warmup_epochs", scalar(warmup)), ("min_lr", scalar(minimum))], flow: true))])
        case let .linear(warmup, start, minimum):
            scheduleNode = mapping([
                ("linear", mapping([("warmup_epochs", scalar(warmup)), ("start_lr", scalar(start)), ("min_lr", scalar(minimum))], flow: true))
            ])
        }
        var pairs: [(String, Node)] = [
            ("epochs", scalar(epochs)), ("batch_size", scalar(batchSize)), ("optimizer", optimizerNode),
            ("schedule", scheduleNode), ("log_every_steps", scalar(logEverySteps)), ("threads", scalar(threads)), ("precision", scalar(precision.rawValue)),
        ]
        // Only when set: config.yaml of the runs made before these existed stays the same.
        if let lookahead {
            pairs.append(
                (
                    "lookahead",
                    mapping([("every", scalar(lookahead.every)), ("decay", scalar(lookahead.decay)), ("power", scalar(lookahead.power))], flow: true)
                ))
        }
        if !groups.isEmpty {
            let entries = groups.map { group in
                mapping(
                    [
                        ("parameters", scalar(group.parameters)), ("lr_scale", scalar(group.learningRateScale)),
                    ] + (group.weightDecayScale.map { [("weight_decay_scale", scalar($0))] } ?? [])
                        + (group.epochs.map { [("epochs", scalar($0))] } ?? []), flow: true)
            }
            pairs.append(("groups", .sequence(.init(entries))))
        }
        return mapping(pairs)
    }
}

func mapping(_ pairs: [(String, Node)], flow: Bool = false) -> Node {
    .mapping(.init(pairs.map { (scalar($0.0), $0.1) }, .implicit, flow ? .flow : .block))
}

extension ExperimentSpec {
    /// Dotted keys whose values differ between two resolved configs (config.yaml texts), each as
    /// `key: old → new`.
    public static func differingKeys(_ old: String, _ new: String) -> [String] {
        func flatten(_ node: Node?, _ prefix: String, into result: inout [String: String]) {
            switch node {
            case .mapping(let mapping)?:
                for (key, value) in mapping { flatten(value, prefix.isEmpty ? key.string ?? "?" : "\(prefix).\(key.string ?? "?")", into: &result) }
            case .sequence(let sequence)?:
                for (index, value) in sequence.enumerated() { flatten(value, "\(prefix).\(index)", into: &result) }
            case .scalar(let scalar)?: result[prefix] = scalar.string
            default: result[prefix] = ""
            }
        }
        var a: [String: String] = [:], b: [String: String] = [:]
        flatten(try? Yams.compose(yaml: old), "", into: &a)
        flatten(try? Yams.compose(yaml: new), "", into: &b)
        return Set(a.keys).union(b.keys).sorted().compactMap { key in
            a[key] == b[key] ? nil : "\(key): \(a[key] ?? "(absent)") → \(b[key] ?? "(absent)")"
        }
    }
}

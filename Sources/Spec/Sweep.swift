import Foundation
import Tensor
import Yams

/// A `sweep:` block: dotted keys to vary. A grid by default (every combination, the first key
/// varying slowest); with `random: N`, N points drawn from the run's seed, each key a list to
/// choose from or a range `{uniform: [a, b]}`, `{log_uniform: [a, b]}`, `{int_uniform: [a, b]}`.
public struct SweepSpec {
    public enum Values {
        case list([Node])
        case uniform(Double, Double), logUniform(Double, Double), intUniform(Int, Int)
    }
    public struct Dimension {
        public var path: [String]
        public var values: Values
        public var location: SpecLocation
        var mark: Mark?

        /// A drawn value as a plain scalar located at the sweep key.
        func scalar(_ text: String) -> Node { .scalar(.init(text, .implicit, .plain, mark)) }
    }
    public var dimensions: [Dimension]
    public var random: Int?

    public init(_ node: SpecNode) throws(SpecError) {
        guard case .mapping(let mapping) = node.node else {
            throw node.typeError("sweep", expected: "a mapping of dotted keys to lists", example: "sweep: {train.batch_size: [64, 128]}")
        }
        dimensions = []
        random = nil
        for (key, value) in mapping {
            let keyNode = SpecNode(node: key, file: node.file), valueNode = SpecNode(node: value, file: node.file)
            guard let name = key.scalar?.string, !name.isEmpty else {
                throw SpecError(keyNode.location, "a sweep key must be a dotted key", hint: "for example train.batch_size: [64, 128]")
            }
            if name == "random" {
                random = try valueNode.int("random")
                guard random! >= 1 && random! <= 10_000 else {
                    throw SpecError(valueNode.location, "'random' must be between 1 and 10000, got \(random!)", hint: "for example random: 8")
                }
                continue
            }
            let path = name.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
            guard path.allSatisfy({ !$0.isEmpty }), let first = path.first, ExperimentSpec.keys.contains(first), first != "sweep" else {
                let known = ExperimentSpec.keys.filter { $0 != "sweep" }
                throw SpecError(
                    keyNode.location, "sweep key '\(name)' does not start with a section of the experiment",
                    hint: (suggestion(for: path.first ?? name, among: known).map { "did you mean '\($0)'? " } ?? "")
                        + "sections: \(known.joined(separator: ", "))")
            }
            let values: Values
            switch value {
            case .sequence(let items):
                guard !items.isEmpty else { throw SpecError(valueNode.location, "sweep key '\(name)' lists no values", hint: "list at least one value") }
                values = .list(Array(items))
            case .mapping:
                let map = try valueNode.mapping("sweep range", allowed: ["uniform", "log_uniform", "int_uniform"])
                guard map.keys.count == 1, let kind = map.keys.first else {
                    throw SpecError(
                        valueNode.location, "a sweep range names one of uniform, log_uniform, int_uniform", hint: "for example {log_uniform: [1.0e-4, 1.0e-2]}")
                }
                let bounds = try map[kind]!.sequence(kind)
                guard bounds.count == 2 else { throw SpecError(map[kind]!.location, "'\(kind)' takes [low, high]", hint: "for example {\(kind): [1, 10]}") }
                switch kind {
                case "int_uniform": values = .intUniform(try bounds[0].int(kind), try bounds[1].int(kind))
                case "log_uniform":
                    let (low, high) = (try bounds[0].double(kind), try bounds[1].double(kind))
                    guard low > 0 && high >= low else {
                        throw SpecError(map[kind]!.location, "'log_uniform' needs 0 < low ≤ high", hint: "for example {log_uniform: [1.0e-4, 1.0e-2]}")
                    }
                    values = .logUniform(low, high)
                default: values = .uniform(try bounds[0].double(kind), try bounds[1].double(kind))
                }
            default:
                throw valueNode.typeError("sweep key '\(name)'", expected: "a list of values (or a range with random:)", example: "\(name): [1, 2]")
            }
            dimensions.append(Dimension(path: path, values: values, location: keyNode.location, mark: key.mark))
        }
        if random == nil, let ranged = dimensions.first(where: { if case .list = $0.values { false } else { true } }) {
            throw SpecError(
                ranged.location, "sweep key '\(ranged.path.joined(separator: "."))' is a range, which needs 'random: N'",
                hint: "add random: 8 to the sweep, or list the values")
        }
        guard !dimensions.isEmpty else { throw SpecError(node.location, "the sweep varies nothing", hint: "add a dotted key with a list of values") }
    }

    /// The sweep's points, each as the overrides it makes and its run name.
    public func points(seed: Int) -> [(name: String, overrides: [Override])] {
        var combinations: [[Node]] = []
        if let random {
            var generator = RandomSource(seed: UInt64(bitPattern: Int64(seed)), stream: "sweep")
            for _ in 0 ..< random {
                combinations.append(
                    dimensions.map { dimension in
                        switch dimension.values {
                        case .list(let nodes): return nodes[generator.below(nodes.count)]
                        case let .uniform(low, high): return dimension.scalar(String(format: "%.4g", low + (high - low) * Double(generator.uniformFloat())))
                        case let .logUniform(low, high):
                            return dimension.scalar(String(format: "%.4g", exp(log(low) + (log(high) - log(low)) * Double(generator.uniformFloat()))))
                        case let .intUniform(low, high): return dimension.scalar(String(low + generator.below(high - low + 1)))
                        }
                    })
            }
        } else {
            combinations = [[]]
            for dimension in dimensions {
                guard case .list(let nodes) = dimension.values else { continue }
                combinations = combinations.flatMap { prefix in nodes.map { prefix + [$0] } }
            }
        }
        // Short names (the last key component) unless two varied keys share one.
        let shortNames = dimensions.map { $0.path.last! }
        let labels = dimensions.map { Set(shortNames).count == shortNames.count ? $0.path.last! : $0.path.joined(separator: ".") }
        return combinations.map { values in
            let name = zip(labels, values).map { "\($0)=\(compactText($1))" }.joined(separator: ",")
            let overrides = zip(dimensions, values).map { Override(path: $0.path, value: $1, location: $0.location) }
            return (sanitized(name), overrides)
        }
    }
}

/// A value as it appears in a run name: scalars as written, lists as [a,b], mappings as {k:v}.
func compactText(_ node: Node) -> String {
    switch node {
    case .scalar(let scalar): return scalar.string
    case .sequence(let sequence): return "[" + sequence.map(compactText).joined(separator: ",") + "]"
    case .mapping(let mapping): return "{" + mapping.map { "\(compactText($0.key)):\(compactText($0.value))" }.joined(separator: ",") + "}"
    case .alias: return "*"
    }
}

/// A run directory name: no path separators, no leading dot, no control characters (names are
/// printed: an escape sequence in a sweep value must not reach the terminal).
func sanitized(_ name: String) -> String {
    let printable = String(String.UnicodeScalarView(name.unicodeScalars.map { $0.properties.generalCategory == .control ? "_" : $0 }))
    var result = printable.replacingOccurrences(of: "/", with: "_")
    if result.hasPrefix(".") { result = "_" + result }
    return String(result.prefix(200))
}

/// One run of an experiment file: its directory name under the experiment, and its spec.
public struct PlannedRun {
    public var runName: String
    public var spec: ExperimentSpec
    /// The keys this run varies, with their values (for tables and hyperparameters).
    public var varied: [(String, String)]
}

extension ExperimentSpec {
    /// Every run an experiment file describes: one named `default`, or one per sweep point.
    /// `overrides` (from `--set`) apply to each.
    public static func expand(path: String, overrides: [Override] = []) throws(SpecError) -> [PlannedRun] {
        let root = try SpecNode.load(path: path, shownAs: path)
        let directory = (path as NSString).deletingLastPathComponent
        let map = try root.mapping("the experiment", allowed: ExperimentSpec.keys)
        guard let sweepNode = map["sweep"], !sweepNode.isNull else {
            return [PlannedRun(runName: "default", spec: try ExperimentSpec(root, directory: directory, overrides: overrides), varied: [])]
        }
        let sweep = try SweepSpec(sweepNode)
        let seed = try map.int("seed", default: 0)
        var runs: [PlannedRun] = []
        for point in sweep.points(seed: seed) {
            let spec = try ExperimentSpec(root, directory: directory, overrides: point.overrides + overrides)
            runs.append(PlannedRun(runName: point.name, spec: spec, varied: point.overrides.map { ($0.dottedPath, compactText($0.value)) }))
        }
        var seen = Set<String>()
        for run in runs where !seen.insert(run.runName).inserted {
            throw SpecError(
                sweepNode.location, "two sweep points are both named '\(run.runName)'",
                hint: "list distinct values (a random sweep may draw a point twice: lower random: or widen the ranges)")
        }
        return runs
    }
}

import Layers

/// The spec reference `runner spec` prints (and the README quotes): every key of an experiment
/// file from `Declarations`, every layer kind and option from the registry. The JSON Schema
/// (Schema.swift) is made from the same declarations.
public enum SpecReference {
    /// Where the meanings start: keys and defaults are padded to this column.
    static let column = 29

    public static func text() -> String {
        var lines = ["# Experiment file"]
        lines += keyLines(Declarations.experiment, indent: "")
        lines += [
            "",
            "# Model file (or inline model:)",
            "input: [height, width, channels]",
            "layers:                      a chain by default; name: and inputs: [a, b] make a DAG",
            "  - kind: {option: value, name: my_layer, inputs: [other_layer]}",
            "",
            "# Layer kinds",
        ]
        for kind in LayerRegistry.kinds.sorted(by: { $0.kind < $1.kind }) {
            let inputs = kind.inputCount == 1 ... 1 ? "" : " (inputs: \(kind.inputCount.lowerBound)\(kind.inputCount.count > 1 ? "+" : ""))"
            lines.append("\(kind.kind): \(kind.summary)" + inputs)
            for option in kind.optionKeys {
                lines.append("    \(option.key): \(option.defaultValue)".padding(toLength: 30, withPad: " ", startingAt: 0) + " " + option.meaning)
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `key: default   meaning` for each key, then the keys within it, two spaces further in.
    static func keyLines(_ keys: [SpecKey], indent: String) -> [String] {
        var lines: [String] = []
        for key in keys {
            let nested = indent + "  "
            switch key.value {
            case .mapping(let children, _):
                lines += described(indent + key.key + ":", key.meaning)
                lines += keyLines(children, indent: nested)
            case .data:
                lines += described(indent + key.key + ":", key.meaning)
                lines += keyLines(Declarations.dataCommon + Declarations.datasetKeys, indent: nested)
            case .list(.mapping(let children, _), _):
                lines += described(indent + key.key + ": " + key.shown, key.meaning)
                let entry = keyLines(children, indent: nested + "  ")
                lines += entry.enumerated().map { index, line in index == 0 ? nested + "- " + line.dropFirst(nested.count + 2) : line }
            default:
                lines += described(indent + key.key + ": " + key.shown, key.meaning)
                switch key.value.mappingOrSelf {
                case .mapping(let children, _):
                    lines += keyLines(children, indent: nested)
                case .variant(let variants):
                    for variant in variants where !variant.options.isEmpty {
                        lines.append(nested + variant.name + ":")
                        lines += keyLines(variant.options, indent: nested + "  ")
                    }
                default: break
                }
            }
        }
        return lines
    }

    /// The head padded to the meanings' column, the meaning's first line after it and its other
    /// lines under it.
    static func described(_ head: String, _ meaning: String) -> [String] {
        let parts = meaning.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard let first = parts.first, !first.isEmpty else { return [head] }
        let padded = head.count < column ? head.padding(toLength: column, withPad: " ", startingAt: 0) : head + " "
        return [padded + first] + parts.dropFirst().map { String(repeating: " ", count: column) + $0 }
    }
}

import Foundation
import Yams

/// A value to put at a dotted path of an experiment (`train.optimizer.adam.lr`), from a
/// `sweep:` point or a `--set` flag. Numeric components index lists (`model.layers.0.conv.filters`).
public struct Override {
    public var path: [String]
    public var value: Node
    /// Where the override was written, for messages about it.
    public var location: SpecLocation

    public init(path: [String], value: Node, location: SpecLocation) {
        self.path = path; self.value = value; self.location = location
    }

    public var dottedPath: String { path.joined(separator: ".") }

    /// Parses `a.b=value` (the value as YAML) from the command line.
    public static func parse(assignment: String) throws(SpecError) -> Override {
        let location = SpecLocation(file: "--set \(assignment)", line: 1, column: 1)
        guard let equals = assignment.firstIndex(of: "=") else {
            throw SpecError(location, "'\(assignment)' is not key=value", hint: "write --set train.epochs=5")
        }
        let path = assignment[..<equals].split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard !path.isEmpty, path.allSatisfy({ !$0.isEmpty }) else {
            throw SpecError(location, "'\(assignment[..<equals])' is not a dotted key", hint: "write --set train.optimizer.adam.lr=0.001")
        }
        let text = String(assignment[assignment.index(after: equals)...])
        let node = try SpecNode.parse(yaml: text, file: location.file).node
        return Override(path: path, value: node, location: location)
    }
}

/// Returns `node` with `value` put at `path`, creating mappings where keys are missing.
func applying(_ override: Override, to node: Node, file: String) throws(SpecError) -> Node {
    try put(override.value, at: override.path[...], in: node, override: override)
}

private func put(_ value: Node, at path: ArraySlice<String>, in node: Node, override: Override) throws(SpecError) -> Node {
    guard let key = path.first else { return value }
    let rest = path.dropFirst()
    switch node {
    case .mapping(var mapping):
        var pairs = Array(mapping)
        if let index = pairs.firstIndex(where: { $0.key.scalar?.string == key }) {
            pairs[index] = (pairs[index].key, try put(value, at: rest, in: pairs[index].value, override: override))
        } else {
            let mark = override.value.mark
            let keyNode = Node.scalar(.init(key, .implicit, .plain, mark))
            pairs.append((keyNode, try put(value, at: rest, in: .mapping(.init([], .implicit, .block, mark)), override: override)))
        }
        mapping = Node.Mapping(pairs.map { ($0.key, $0.value) }, mapping.tag, mapping.style, mapping.mark)
        return .mapping(mapping)
    case .sequence(let sequence):
        guard let index = Int(key), index >= 0, index < sequence.count else {
            throw SpecError(override.location, "'\(override.dottedPath)': '\(key)' is not an index of a list of \(sequence.count)", hint: "list entries are numbered from 0")
        }
        var nodes = Array(sequence)
        nodes[index] = try put(value, at: rest, in: nodes[index], override: override)
        return .sequence(Node.Sequence(nodes, sequence.tag, sequence.style, sequence.mark))
    default:
        // A scalar (a bare `adam`, a null) becomes a mapping that holds the new key.
        return try put(value, at: path, in: .mapping(.init([], .implicit, .block, node.mark)), override: override)
    }
}

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
/// `index` (the override's position in its list) marks the nodes it adds: their YAML marks say
/// line −(index + 1), which no text has, so an error about them is traced back to the override's
/// own location (`--set seeed=3`, the sweep's line) by `OverrideMarks.locate`.
func applying(_ override: Override, index: Int, to node: Node, file: String) throws(SpecError) -> Node {
    var marked = override
    if let mark = OverrideMarks.mark(index) { marked.value = OverrideMarks.remark(override.value, mark) }
    return try put(marked.value, at: override.path[...], in: node, override: marked)
}

enum OverrideMarks {
    /// A Yams mark at line −(index + 1). Mark has no public initialiser; its layout is two Ints
    /// (checked here, else overrides keep their own marks and errors point at line 1).
    static func mark(_ index: Int) -> Mark? {
        guard MemoryLayout<Mark>.size == MemoryLayout<(Int, Int)>.size else { return nil }
        return unsafeBitCast((-(index + 1), 1), to: Mark.self)
    }

    /// `node` and everything under it carrying `mark`.
    static func remark(_ node: Node, _ mark: Mark) -> Node {
        switch node {
        case .scalar(let scalar): return .scalar(.init(scalar.string, scalar.tag, scalar.style, mark))
        case .mapping(let mapping):
            return .mapping(.init(mapping.map { (remark($0.key, mark), remark($0.value, mark)) }, mapping.tag, mapping.style, mark))
        case .sequence(let sequence): return .sequence(.init(sequence.map { remark($0, mark) }, sequence.tag, sequence.style, mark))
        case .alias: return node
        }
    }

    /// An error located at an override's nodes, moved to where the override was written.
    static func locate(_ error: SpecError, overrides: [Override]) -> SpecError {
        guard error.location.line < 0, -error.location.line - 1 < overrides.count else { return error }
        var moved = error
        moved.location = overrides[-error.location.line - 1].location
        return moved
    }
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
            throw SpecError(
                override.location, "'\(override.dottedPath)': '\(key)' is not an index of a list of \(sequence.count)", hint: "list entries are numbered from 0"
            )
        }
        var nodes = Array(sequence)
        nodes[index] = try put(value, at: rest, in: nodes[index], override: override)
        return .sequence(Node.Sequence(nodes, sequence.tag, sequence.style, sequence.mark))
    default:
        // A scalar (a bare `adam`, a null) becomes a mapping that holds the new key.
        return try put(value, at: path, in: .mapping(.init([], .implicit, .block, node.mark)), override: override)
    }
}

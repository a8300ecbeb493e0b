import Files
import Foundation
import Layers
import Yams

/// A YAML node that knows which file and position it came from, with typed readers whose
/// errors say where, what and how to fix it.
public struct SpecNode {
    public let node: Node
    public let file: String

    public var location: SpecLocation {
        let mark = node.mark
        return SpecLocation(file: file, line: mark?.line ?? 1, column: mark?.column ?? 1)
    }

    /// Limits that keep a hostile file from costing more than a second and a little memory.
    public static let maxBytes = FileLimits.spec
    public static let maxDepth = 100
    public static let maxNodes = 100_000

    /// Parses a whole file. An empty document is an empty mapping.
    public static func parse(yaml: String, file: String) throws(SpecError) -> SpecNode {
        try checkShape(yaml, file: file)
        do {
            guard let node = try Yams.compose(yaml: yaml) else {
                return SpecNode(node: .mapping(.init([])), file: file)
            }
            var budget = maxNodes
            guard countNodes(node, budget: &budget) else {
                throw SpecError(
                    SpecLocation(file: file, line: 1, column: 1), "the document expands to more than \(maxNodes) values",
                    hint: "YAML aliases (*name) repeat what they point to; write the spec out, or use fewer aliases")
            }
            return SpecNode(node: node, file: file)
        } catch let error as SpecError {
            throw error
        } catch let error as YamlError {
            throw SpecNode.locate(error, file: file)
        } catch {
            throw SpecError(SpecLocation(file: file, line: 1, column: 1), "cannot read YAML: \(error)", hint: "check that the file is UTF-8 text")
        }
    }

    /// Reads a file from disk and parses it.
    public static func load(path: String, shownAs file: String) throws(SpecError) -> SpecNode {
        let start = SpecLocation(file: file, line: 1, column: 1)
        let data: Data
        do { data = try FileLimits.read(path, cap: maxBytes, kind: "spec") } catch {
            throw SpecError(
                start, error.message,
                hint: error.message.hasPrefix("the spec is") ? "a spec is a short text file: check that this is the right file" : error.hint)
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw SpecError(start, "the file is not UTF-8 text", hint: "save it as UTF-8")
        }
        return try parse(yaml: text, file: file)
    }

    /// Rejects files too large or nested too deeply before the YAML parser sees them (its
    /// composer recurses once per level). Flow nesting is counted by brackets outside quotes,
    /// block nesting bounded by indentation.
    static func checkShape(_ yaml: String, file: String) throws(SpecError) {
        guard yaml.utf8.count <= maxBytes else {
            throw SpecError(
                SpecLocation(file: file, line: 1, column: 1), "the file is \(yaml.utf8.count) bytes; a spec may have at most \(maxBytes)",
                hint: "a spec is a short text file: check that this is the right file")
        }
        // Quotes and comments end at the line's end here (a spec has no multi-line strings that
        // matter): a stray apostrophe in a comment cannot hide brackets on later lines.
        var depth = 0, line = 1, column = 0, quote: UInt8? = nil, indentation = 0, atLineStart = true, comment = false
        for byte in yaml.utf8 {
            column += 1
            if byte == UInt8(ascii: "\n") { line += 1; column = 0; atLineStart = true; indentation = 0; quote = nil; comment = false; continue }
            if comment { continue }
            if atLineStart {
                if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "-") { indentation += 1 } else { atLineStart = false }
                if indentation > 2 * maxDepth {
                    throw SpecError(
                        SpecLocation(file: file, line: line, column: column), "the spec is nested more than \(maxDepth) levels deep",
                        hint: "flatten the structure; no spec key needs this depth")
                }
            }
            if let open = quote {
                if byte == open { quote = nil }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "'"): quote = byte
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                depth += 1
                if depth > maxDepth {
                    throw SpecError(
                        SpecLocation(file: file, line: line, column: column), "the spec is nested more than \(maxDepth) levels deep",
                        hint: "flatten the structure; no spec key needs this depth")
                }
            case UInt8(ascii: "]"), UInt8(ascii: "}"): depth = max(0, depth - 1)
            case UInt8(ascii: "#"): comment = true
            default: break
            }
        }
    }

    /// Counts nodes, following aliases, until `budget` runs out (false then).
    static func countNodes(_ node: Node, budget: inout Int) -> Bool {
        budget -= 1
        guard budget >= 0 else { return false }
        switch node {
        case .mapping(let mapping):
            for (key, value) in mapping where !countNodes(key, budget: &budget) || !countNodes(value, budget: &budget) { return false }
        case .sequence(let sequence):
            for item in sequence where !countNodes(item, budget: &budget) { return false }
        default: break
        }
        return true
    }

    static func locate(_ error: YamlError, file: String) -> SpecError {
        func at(_ mark: Mark) -> SpecLocation { SpecLocation(file: file, line: mark.line, column: mark.column) }
        let hint = "check indentation, colons and brackets near this position"
        switch error {
        case let .scanner(context, problem, mark, _), let .parser(context, problem, mark, _), let .composer(context, problem, mark, _):
            let detail = context.map { "\(problem) \($0.text)" } ?? problem
            return SpecError(at(mark), "YAML syntax error: \(detail)", hint: hint)
        case let .duplicatedKeysInMapping(duplicates, context):
            return SpecError(at(context.mark), "duplicate key '\(duplicates.joined(separator: "', '"))' in a mapping", hint: "keep one of them")
        case let .reader(problem, offset, _, _):
            return SpecError(
                SpecLocation(file: file, line: 1, column: 1), "cannot read YAML: \(problem)\(offset.map { " at byte \($0)" } ?? "")",
                hint: "save the file as UTF-8 text")
        default:
            return SpecError(SpecLocation(file: file, line: 1, column: 1), "cannot read YAML: \(error)", hint: hint)
        }
    }

    /// The scalar's text, or nil for mappings and sequences.
    public var scalarText: String? { node.scalar?.string }

    public var isNull: Bool {
        guard let scalar = node.scalar else { return false }
        return (scalar.style == .plain || scalar.style == .any) && ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    func typeError(_ what: String, expected: String, example: String) -> SpecError {
        let found: String
        switch node {
        case .scalar(let scalar): found = "'\(scalar.string)'"
        case .mapping: found = "a mapping"
        case .sequence: found = "a list"
        case .alias: found = "an alias"
        }
        return SpecError(location, "\(what) must be \(expected), got \(found)", hint: "for example \(example)")
    }

    public func int(_ what: String) throws(SpecError) -> Int {
        guard let text = scalarText, node.scalar?.style == .plain, let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            throw typeError("'\(what)'", expected: "a whole number", example: "\(what): 32")
        }
        return value
    }

    public func double(_ what: String) throws(SpecError) -> Double {
        guard let text = scalarText, node.scalar?.style == .plain, let value = Double(text), value.isFinite else {
            throw typeError("'\(what)'", expected: "a number", example: "\(what): 0.001")
        }
        return value
    }

    public func string(_ what: String) throws(SpecError) -> String {
        guard let text = scalarText, !isNull else { throw typeError("'\(what)'", expected: "a string", example: "\(what): name") }
        return text
    }

    public func bool(_ what: String) throws(SpecError) -> Bool {
        switch scalarText {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default: throw typeError("'\(what)'", expected: "true or false", example: "\(what): true")
        }
    }

    public func sequence(_ what: String) throws(SpecError) -> [SpecNode] {
        guard case .sequence(let items) = node else { throw typeError("'\(what)'", expected: "a list", example: "\(what): [1, 2]") }
        return items.map { SpecNode(node: $0, file: file) }
    }

    /// Reads a mapping whose keys must all be in `allowed` (an unknown key is an error that
    /// suggests the nearest known one). `what` names the mapping in messages.
    public func mapping(_ what: String, allowed: [String]) throws(SpecError) -> SpecMap {
        if isNull { return SpecMap(what: what, location: location, entries: [], file: file) }
        guard case .mapping(let mapping) = node else {
            throw typeError(what, expected: "a mapping", example: "\(what): {key: value}")
        }
        var entries: [(key: String, keyNode: SpecNode, value: SpecNode)] = []
        for (key, value) in mapping {
            let keyNode = SpecNode(node: key, file: file)
            guard let name = key.scalar?.string else {
                throw SpecError(keyNode.location, "a key in \(what) must be a word", hint: "write key: value")
            }
            guard allowed.contains(name) else {
                let nearest = suggestion(for: name, among: allowed)
                let known = allowed.isEmpty ? "\(what) takes no keys" : "known keys: \(allowed.joined(separator: ", "))"
                throw SpecError(
                    keyNode.location, "unknown key '\(name)' in \(what)",
                    hint: nearest.map { "did you mean '\($0)'? \(known)" } ?? known)
            }
            entries.append((name, keyNode, SpecNode(node: value, file: file)))
        }
        return SpecMap(what: what, location: location, entries: entries, file: file)
    }
}

/// A mapping whose keys were checked; typed readers with defaults. Also the `OptionSource`
/// that layers read their options from.
public struct SpecMap: OptionSource {
    public let what: String
    public let location: SpecLocation
    let entries: [(key: String, keyNode: SpecNode, value: SpecNode)]
    let file: String

    public subscript(key: String) -> SpecNode? { entries.first { $0.key == key }?.value }
    public var keys: [String] { entries.map(\.key) }

    func missing(_ key: String) -> SpecError {
        SpecError(location, "\(what) is missing required key '\(key)'", hint: "add '\(key): <value>'")
    }

    func read<T>(_ key: String, _ defaultValue: T?, _ reader: (SpecNode) throws(SpecError) -> T) throws(SpecError) -> T {
        guard let node = self[key], !node.isNull else {
            guard let defaultValue else { throw missing(key) }
            return defaultValue
        }
        return try reader(node)
    }

    public func int(_ key: String, default defaultValue: Int?) throws(SpecError) -> Int {
        try read(key, defaultValue) { node throws(SpecError) in try node.int(key) }
    }
    public func double(_ key: String, default defaultValue: Double?) throws(SpecError) -> Double {
        try read(key, defaultValue) { node throws(SpecError) in try node.double(key) }
    }
    public func bool(_ key: String, default defaultValue: Bool) throws(SpecError) -> Bool {
        try read(key, defaultValue) { node throws(SpecError) in try node.bool(key) }
    }
    public func string(_ key: String, default defaultValue: String?) throws(SpecError) -> String {
        try read(key, defaultValue) { node throws(SpecError) in try node.string(key) }
    }
    public func choice(_ key: String, default defaultValue: String?, allowed: [String]) throws(SpecError) -> String {
        let value = try string(key, default: defaultValue)
        guard allowed.contains(value) else {
            let nearest = suggestion(for: value, among: allowed)
            let known = "one of: \(allowed.joined(separator: ", "))"
            throw SpecError(self[key]!.location, "'\(key)' cannot be '\(value)'", hint: nearest.map { "did you mean '\($0)'? \(known)" } ?? known)
        }
        return value
    }
    /// One of a closed set of words, as the enum whose raw values they are.
    public func choice<Choice: RawRepresentable & CaseIterable>(_ key: String, default defaultValue: Choice) throws(SpecError) -> Choice
    where Choice.RawValue == String {
        Choice(rawValue: try choice(key, default: defaultValue.rawValue, allowed: Choice.allCases.map(\.rawValue)))!
    }

    public func text(_ key: String) throws(SpecError) -> String? {
        guard let node = self[key], !node.isNull else { return nil }
        guard let text = node.scalarText else { throw node.typeError("'\(key)'", expected: "a word or a number", example: "\(key): same") }
        return text
    }
    public func invalid(_ key: String, _ message: String, hint: String) -> any Error {
        SpecError(self[key]?.location ?? location, message, hint: hint)
    }

    /// A number that must lie in `range`.
    public func double(_ key: String, default defaultValue: Double?, in range: ClosedRange<Double>, example: String) throws(SpecError) -> Double {
        let value = try double(key, default: defaultValue)
        guard range.contains(value) else {
            throw SpecError(
                self[key]?.location ?? location, "'\(key)' must be between \(range.lowerBound) and \(range.upperBound), got \(value)",
                hint: "for example \(key): \(example)")
        }
        return value
    }

    /// A whole number that must be at least `minimum`.
    public func int(_ key: String, default defaultValue: Int?, atLeast minimum: Int) throws(SpecError) -> Int {
        let value = try int(key, default: defaultValue)
        guard value >= minimum else {
            throw SpecError(self[key]?.location ?? location, "'\(key)' must be at least \(minimum), got \(value)", hint: "use a whole number ≥ \(minimum)")
        }
        return value
    }

    /// A whole number in `range` (a cap keeps a typo such as 1000000000 from exhausting memory).
    public func int(_ key: String, default defaultValue: Int?, in range: ClosedRange<Int>) throws(SpecError) -> Int {
        let value = try int(key, default: defaultValue)
        guard range.contains(value) else {
            throw SpecError(
                self[key]?.location ?? location, "'\(key)' must be from \(range.lowerBound) to \(range.upperBound), got \(value)",
                hint: "use a whole number in \(range.lowerBound)...\(range.upperBound)")
        }
        return value
    }
}

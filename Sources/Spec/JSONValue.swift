import Foundation

/// A JSON value whose objects keep their members in the order written, so that a generated
/// document (`runner schema`) prints the same bytes every time and reads in declaration order.
public indirect enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([Member])

    public struct Member: Sendable, Equatable {
        public var key: String
        public var value: JSONValue
        public init(_ key: String, _ value: JSONValue) { self.key = key; self.value = value }
    }

    /// An object from key-value pairs in order; pairs whose value is nil are left out.
    public static func object(_ pairs: KeyValuePairs<String, JSONValue?>) -> JSONValue {
        .object(pairs.compactMap { key, value in value.map { Member(key, $0) } })
    }

    /// Pretty-printed, two spaces an indent; short arrays of scalars stay on one line.
    public func printed(indent: String = "") -> String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .number(let value): return value == value.rounded() && abs(value) < 1e15 ? String(format: "%.1f", value) : "\(value)"
        case .string(let value): return JSONValue.quoted(value)
        case .array(let items):
            if items.isEmpty { return "[]" }
            let inner = indent + "  "
            if items.allSatisfy(\.isScalar) {
                let line = "[" + items.map { $0.printed() }.joined(separator: ", ") + "]"
                if line.count + indent.count <= 100 { return line }
            }
            return "[\n" + items.map { inner + $0.printed(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            let inner = indent + "  "
            return "{\n" + members.map { inner + JSONValue.quoted($0.key) + ": " + $0.value.printed(indent: inner) }.joined(separator: ",\n") + "\n" + indent
                + "}"
        }
    }

    var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }

    /// A JSON string literal (JSONEncoder's escaping, slashes left as they are).
    static func quoted(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    /// The value as YAML would show it in the spec reference (`1.0e-8`, `[]`, `val/accuracy`).
    public var yamlText: String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .int(let value): return String(value)
        case .number(let value):
            guard value != value.rounded() || abs(value) >= 1e15 else { return String(format: "%.1f", value) }
            let text = "\(value)"
            guard let e = text.firstIndex(of: "e") else { return text }
            let mantissa = String(text[..<e]), exponent = Int(text[text.index(after: e)...]) ?? 0
            return (mantissa.contains(".") ? mantissa : mantissa + ".0") + "e\(exponent)"
        case .string(let value): return value
        case .array(let items): return "[" + items.map(\.yamlText).joined(separator: ", ") + "]"
        case .object(let members): return "{" + members.map { "\($0.key): \($0.value.yamlText)" }.joined(separator: ", ") + "}"
        }
    }
}

extension JSONValue: ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral
{
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
}

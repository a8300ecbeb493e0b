/// A position in a spec file: 1-based line and column, as editors count them.
public struct SpecLocation: Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var column: Int
    public init(file: String, line: Int, column: Int) { self.file = file; self.line = line; self.column = column }
    public var description: String { "\(file):\(line):\(column)" }
}

/// Everything that can be wrong with a spec, located. Prints as
/// `configs/x.yaml:14:5: error: ...` and, on the next line, `hint: ...`.
public struct SpecError: Error, Sendable, Equatable, CustomStringConvertible {
    public var location: SpecLocation
    public var message: String
    public var hint: String

    public init(_ location: SpecLocation, _ message: String, hint: String) {
        self.location = location; self.message = message; self.hint = hint
    }

    public var description: String {
        hint.isEmpty ? "\(location): error: \(message)" : "\(location): error: \(message)\nhint: \(hint)"
    }
}

/// The closest candidate by edit distance, when it is close enough to be a likely typo.
public func suggestion(for word: String, among candidates: [String]) -> String? {
    let scored = candidates.map { ($0, editDistance(word, $0)) }
    guard let best = scored.min(by: { $0.1 < $1.1 }) else { return nil }
    return best.1 <= max(2, word.count / 3) ? best.0 : nil
}

/// Levenshtein distance (insertions, deletions, substitutions; a transposition counts 2).
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    if a.isEmpty { return b.count }
    var previous = Array(0 ... b.count)
    for i in 1 ... a.count {
        var current = [i] + Array(repeating: 0, count: b.count)
        for j in 1 ... max(b.count, 1) where j <= b.count {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return previous[b.count]
}

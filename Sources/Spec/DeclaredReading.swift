/// Reading a key as it is declared (Declarations.swift): the key, its default and its bounds
/// all come from the declaration, so that what the reader does, what `runner spec` prints and
/// what `runner schema` states cannot drift apart. The messages are those of the plain readers.
extension SpecMap {
    public func int(_ declared: SpecKey) throws(SpecError) -> Int {
        let fallback = declared.defaultValue?.intValue
        guard case .integer(let minimum, let maximum) = declared.value else { return try int(declared.key, default: fallback) }
        switch (minimum, maximum) {
        case (let low?, let high?): return try int(declared.key, default: fallback, in: low ... high)
        case (let low?, nil): return try int(declared.key, default: fallback, atLeast: low)
        default: return try int(declared.key, default: fallback)
        }
    }

    public func double(_ declared: SpecKey) throws(SpecError) -> Double { try double(declared, default: declared.defaultValue?.doubleValue) }

    /// A declared number whose default depends on other keys (adamw's weight decay).
    public func double(_ declared: SpecKey, default fallback: Double?) throws(SpecError) -> Double {
        guard case .number(let minimum?, let maximum?) = declared.value else { return try double(declared.key, default: fallback) }
        return try double(declared.key, default: fallback, in: minimum ... maximum, example: declared.example)
    }

    public func bool(_ declared: SpecKey) throws(SpecError) -> Bool {
        try bool(declared.key, default: declared.defaultValue?.boolValue ?? false)
    }

    /// One of the declared words, as the enum whose raw values they are.
    public func choice<Choice: RawRepresentable & CaseIterable>(_ declared: SpecKey) throws(SpecError) -> Choice where Choice.RawValue == String {
        let fallback = declared.defaultValue.map(\.yamlText).flatMap(Choice.init(rawValue:))
        return Choice(rawValue: try choice(declared.key, default: fallback?.rawValue, allowed: Choice.allCases.map(\.rawValue)))!
    }
}

extension SpecNode {
    /// A mapping with the declared keys (of `declared`'s mapping, or of its variant `variant`).
    public func mapping(_ what: String, declared: SpecKey, variant: String? = nil) throws(SpecError) -> SpecMap {
        try mapping(what, allowed: declared.keys(variant: variant))
    }
}

extension SpecKey {
    /// The declaration of `key` within this mapping (or within its variant `variant`). A key
    /// that is not declared is a mistake in runner's own code, caught by every test that reads it.
    public subscript(_ key: String, variant variant: String? = nil) -> SpecKey {
        guard let found = children(variant: variant).first(where: { $0.key == key }) else {
            fatalError("\(self.key) declares no key '\(key)' (Spec/Declarations.swift)")
        }
        return found
    }

    /// The names of a variant key's variants (`adam`, `adamw`, `sgd`).
    public var variantNames: [String] {
        guard case .variant(let variants) = value.mappingOrSelf else { return [] }
        return variants.map(\.name)
    }

    /// The keys of this mapping or of its variant `variant`.
    public func keys(variant: String? = nil) -> [String] { children(variant: variant).map(\.key) }

    func children(variant: String?) -> [SpecKey] {
        switch value.mappingOrSelf {
        case .mapping(let keys, _): return keys
        case .variant(let variants): return variants.first { $0.name == variant }?.options ?? []
        case .list(.mapping(let keys, _), _): return keys
        case .data: return Declarations.dataCommon + Declarations.datasetKeys
        default: return []
        }
    }
}

extension SpecValue {
    /// The mapping or variant among `anyOf`'s alternatives (`tensorboard`, `lookahead`), else self.
    public var mappingOrSelf: SpecValue {
        guard case .anyOf(let values) = self else { return self }
        return values.first {
            switch $0 {
            case .mapping, .variant: true
            default: false
            }
        } ?? self
    }
}

extension JSONValue {
    var intValue: Int? {
        if case .int(let value) = self { return value }
        return nil
    }
    var doubleValue: Double? {
        switch self {
        case .int(let value): Double(value)
        case .number(let value): value
        default: nil
        }
    }
    var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }
}

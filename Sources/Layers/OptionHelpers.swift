import Kernels

/// Option readers shared by several kinds, built on `OptionSource`'s primitives.
extension OptionSource {
    func positiveInt(_ key: String, default defaultValue: Int?) throws -> Int {
        let value = try int(key, default: defaultValue)
        guard value > 0 else { throw invalid(key, "'\(key)' must be at least 1, got \(value)", hint: "use a positive whole number") }
        return value
    }

    /// `same`, `valid`, or a non-negative number of zeros on each side.
    func padding(_ key: String, default defaultValue: Padding) throws -> Padding {
        guard let text = try text(key) else { return defaultValue }
        switch text {
        case "same": return .same
        case "valid": return .valid
        default:
            if let amount = Int(text), amount >= 0 { return .explicit(amount) }
            throw invalid(key, "'\(key)' must be same, valid or a number of zeros ≥ 0, got '\(text)'", hint: "write padding: same")
        }
    }

    func activation() throws -> Activation {
        Activation(rawValue: try choice("activation", default: "linear", allowed: Activation.allCases.map(\.rawValue)))!
    }

    func initializer(default defaultValue: Initializer) throws -> Initializer {
        Initializer(rawValue: try choice("init", default: defaultValue.rawValue, allowed: Initializer.allCases.map(\.rawValue)))!
    }

    /// A probability in [0, 1).
    func rate(_ key: String, default defaultValue: Double) throws -> Double {
        let value = try double(key, default: defaultValue)
        guard value >= 0 && value < 1 else { throw invalid(key, "'\(key)' must be in [0, 1), got \(value)", hint: "for example rate: 0.25") }
        return value
    }
}

/// The option shapes the kinds share. Each names its key once and the layer's property once:
/// the reader, the documentation and the written-back value all follow from that.
extension LayerOption {
    /// A whole number ≥ 1; `defaultValue` nil makes it required.
    public static func positiveInt(_ key: String, _ property: WritableKeyPath<Kind, Int>, default defaultValue: Int?, _ meaning: String) -> LayerOption {
        LayerOption(
            OptionDoc(key, defaultValue.map(String.init) ?? "required", meaning, type: .integer(minimum: 1)),
            read: { layer, source in layer[keyPath: property] = try source.positiveInt(key, default: defaultValue) },
            written: { .int($0[keyPath: property]) })
    }

    public static func bool(_ key: String, _ property: WritableKeyPath<Kind, Bool>, default defaultValue: Bool, _ meaning: String) -> LayerOption {
        LayerOption(
            OptionDoc(key, String(defaultValue), meaning, type: .boolean),
            read: { layer, source in layer[keyPath: property] = try source.bool(key, default: defaultValue) },
            written: { .bool($0[keyPath: property]) })
    }

    /// A number; `check` (when given) says what is wrong with a value it refuses, and `example`
    /// is the hint's example.
    public static func double(
        _ key: String, _ property: WritableKeyPath<Kind, Double>, default defaultValue: Double, _ meaning: String,
        refuse check: ((Double) -> String?)? = nil, example: String = ""
    ) -> LayerOption {
        LayerOption(
            OptionDoc(key, defaultValue.yamlText, meaning, type: .number(minimum: nil, below: nil)),
            read: { layer, source in
                let value = try source.double(key, default: defaultValue)
                if let problem = check?(value) { throw source.invalid(key, "'\(key)' \(problem), got \(value)", hint: "for example \(key): \(example)") }
                layer[keyPath: property] = value
            },
            written: { .double($0[keyPath: property]) })
    }

    /// A probability in [0, 1).
    public static func rate(_ key: String, _ property: WritableKeyPath<Kind, Double>, default defaultValue: Double, _ meaning: String) -> LayerOption {
        LayerOption(
            OptionDoc(key, defaultValue.yamlText, meaning, type: .number(minimum: 0, below: 1)),
            read: { layer, source in layer[keyPath: property] = try source.rate(key, default: defaultValue) },
            written: { .double($0[keyPath: property]) })
    }

    public static func padding(_ property: WritableKeyPath<Kind, Padding>, default defaultValue: Padding, _ meaning: String) -> LayerOption {
        LayerOption(
            OptionDoc("padding", defaultValue.optionValue.text, meaning, type: .wordOrCount(["same", "valid"])),
            read: { layer, source in layer[keyPath: property] = try source.padding("padding", default: defaultValue) },
            written: { $0[keyPath: property].optionValue })
    }

    /// `activation`: linear, relu or gelu, fused after the layer's GEMM.
    public static func activation(_ property: WritableKeyPath<Kind, Activation>) -> LayerOption {
        LayerOption(
            OptionDoc(
                "activation", Activation.linear.rawValue, "linear, relu or gelu, fused after the GEMM", type: .choice(Activation.allCases.map(\.rawValue))),
            read: { layer, source in layer[keyPath: property] = try source.activation() },
            written: { .string($0[keyPath: property].rawValue) })
    }

    /// `init`: how the weights start.
    public static func initializer(_ property: WritableKeyPath<Kind, Initializer>, default defaultValue: Initializer) -> LayerOption {
        LayerOption(
            OptionDoc(
                "init", defaultValue.rawValue, Initializer.allCases.map(\.rawValue).joined(separator: ", "),
                type: .choice(Initializer.allCases.map(\.rawValue))),
            read: { layer, source in layer[keyPath: property] = try source.initializer(default: defaultValue) },
            written: { .string($0[keyPath: property].rawValue) })
    }
}

extension OptionValue {
    /// As YAML would spell it.
    public var text: String {
        switch self {
        case .int(let value): String(value)
        case .double(let value): value.yamlText
        case .string(let value): value
        case .bool(let value): String(value)
        }
    }
}

extension Double {
    /// The shortest text that reads back as this number (0.001, not 1e-03).
    fileprivate var yamlText: String { self == rounded() && abs(self) < 1e15 ? String(Int(self)) : String(self) }
}

extension Padding {
    var optionValue: OptionValue {
        switch self {
        case .same: .string("same")
        case .valid: .string("valid")
        case .explicit(let amount): .int(amount)
        }
    }
}

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

extension Padding {
    var optionValue: OptionValue {
        switch self {
        case .same: .string("same")
        case .valid: .string("valid")
        case .explicit(let amount): .int(amount)
        }
    }
}

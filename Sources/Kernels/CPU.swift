import CKernels
import Foundation

/// What the kernels may use of this CPU. Each level includes the ones below it; every kernel
/// family in CKernels (the float32 GEMM, Winograd's transforms, max pooling, and at the top
/// level the bfloat16 GEMM and im2col) runs the variant of the engine's level, and the portable
/// level is plain C that any CPU (and the only thing a non-x86 build) runs. The Swift loops
/// (elementwise, optimizer, the other pooling kinds) are compiled for the build's target:
/// x86-64 release builds assume AVX2 (x86-64-v3) there.
public enum CPULevel: Int, Comparable, CaseIterable, Sendable, CustomStringConvertible {
    /// Plain C with the compiler's generic vectors; no instruction-set extension required.
    case portable = 0
    /// AVX2 and FMA: 8-lane float vectors (Haswell and later, AMD Zen 1–3).
    case avx2 = 1
    /// AVX-512 F, BW and VL: 16-lane float vectors (Skylake-X, Ice Lake, AMD Zen 4 and 5).
    case avx512 = 2
    /// AVX-512 with VDPBF16PS: what `precision: bf16` needs (Cooper Lake, Sapphire Rapids, Zen 4/5).
    case avx512bf16 = 3

    public var description: String {
        switch self {
        case .portable: "portable"
        case .avx2: "avx2"
        case .avx512: "avx512"
        case .avx512bf16: "avx512bf16"
        }
    }

    public init?(name: String) {
        guard let level = CPULevel.allCases.first(where: { $0.description == name }) else { return nil }
        self = level
    }

    public static func < (a: CPULevel, b: CPULevel) -> Bool { a.rawValue < b.rawValue }
}

/// The CPU level, read once: what the CPU supports, lowered by `RUNNER_CPU` when that is set.
public enum CPU {
    /// The environment variable that lowers the level (to exercise or compare slower paths).
    public static let variable = "RUNNER_CPU"

    /// The highest level this CPU and OS support.
    public static let detected = CPULevel(rawValue: Int(runner_cpu_detected_level())) ?? .portable

    /// The level kernels use: `detected`, or `RUNNER_CPU`'s when that is valid. An invalid value
    /// is ignored here; `environmentError` describes it, and the CLI refuses to start with it.
    public static let level: CPULevel = (try? level(fromEnvironment: ProcessInfo.processInfo.environment[variable], detected: detected)) ?? detected

    /// Every level this machine can run, lowest first (what the kernel tests iterate over).
    public static var supportedLevels: [CPULevel] { CPULevel.allCases.filter { $0 <= level } }

    /// Why `RUNNER_CPU` cannot be used, or nil when it is unset or valid.
    public static var environmentError: CPULevelError? {
        do { _ = try level(fromEnvironment: ProcessInfo.processInfo.environment[variable], detected: detected); return nil } catch { return error }
    }

    /// The level a `RUNNER_CPU` value asks for: unset or empty means `detected`; a known name
    /// at or below `detected` is that level; anything else is an error (a level above the CPU's
    /// would crash on the first instruction it lacks, so it is refused, not clamped).
    public static func level(fromEnvironment value: String?, detected: CPULevel) throws(CPULevelError) -> CPULevel {
        guard let value, !value.isEmpty else { return detected }
        let names = CPULevel.allCases.map(\.description).joined(separator: ", ")
        guard let asked = CPULevel(name: value.lowercased()) else {
            throw CPULevelError(
                "\(variable)=\(value.debugDescription) is not a CPU level",
                hint: "use one of \(names) (this CPU supports up to \(detected)), or unset it")
        }
        guard asked <= detected else {
            throw CPULevelError(
                "\(variable)=\(value) asks for \(asked), but this CPU supports only up to \(detected)",
                hint:
                    "\(variable) can only lower the level: use one of "
                    + "\(CPULevel.allCases.filter { $0 <= detected }.map(\.description).joined(separator: ", ")), or unset it"
            )
        }
        return asked
    }
}

public struct CPULevelError: Error, CustomStringConvertible {
    public let message: String
    public let hint: String
    init(_ message: String, hint: String) { self.message = message; self.hint = hint }
    public var description: String { "error: \(message)\nhint: \(hint)" }
}

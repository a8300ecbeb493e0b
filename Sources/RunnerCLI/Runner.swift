import ArgumentParser
import Foundation

/// Starts `runner`: first picks OpenBLAS's kernels, then parses the command line.
@main
enum Entry {
    static func main() {
        chooseBLASKernels()
        Runner.main()
    }
}

/// On AMD CPUs with AVX2, OpenBLAS's Haswell (AVX2) kernels beat the AVX-512 ones it picks by
/// itself (measured here on Zen 4: sgemm 1024³ 166 → 213 GFLOP/s, training +17 %; see
/// ../shared/STACK.md). OpenBLAS reads OPENBLAS_CORETYPE only when it loads, so runner sets it
/// and re-executes itself once. A value already in the environment is left alone (some
/// machines set it on purpose), and so is every other CPU.
func chooseBLASKernels() {
    let environment = ProcessInfo.processInfo.environment
    guard environment["OPENBLAS_CORETYPE"] == nil, environment["RUNNER_BLAS_CHOSEN"] == nil,
          let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
          cpuinfo.contains("AuthenticAMD"),
          let flags = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }),
          flags.contains(" avx2"), flags.contains(" fma") else { return }
    setenv("OPENBLAS_CORETYPE", "Haswell", 1)
    setenv("RUNNER_BLAS_CHOSEN", "1", 1)
    let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
    execv("/proc/self/exe", arguments)
    // execv returns only on failure: go on with OpenBLAS's own choice.
}

/// `runner CONFIG...` trains; `runner check`, `runner bench` and `runner spec` are the other verbs.
struct Runner: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "runner",
        abstract: "Train neural networks described in YAML, on the CPU.",
        subcommands: [TrainCommand.self, CheckCommand.self, EvalCommand.self, RunsCommand.self, BenchCommand.self, SpecCommand.self],
        defaultSubcommand: TrainCommand.self)
}

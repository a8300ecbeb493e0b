import Foundation
import Kernels
import Testing

/// What a user on another CPU sees: RUNNER_CPU lowers the level the way an older CPU would,
/// so these tests run the AVX2-only and portable experiences on any machine.
@Suite("CPU levels through the binary", .serialized)
struct CPULevelTests {
    @Test(
        "every shipped config is checked and resolves `auto` at every supported level; bf16 only where it exists",
        arguments: CPU.supportedLevels)
    func shippedConfigs(level: CPULevel) throws {
        let configs = try FileManager.default.contentsOfDirectory(atPath: repository.appendingPathComponent("configs").path)
            .filter { $0.hasSuffix(".yaml") }.sorted().map { "configs/" + $0 }
        #expect(configs.count >= 5)
        let result = try runner(["check"] + configs, environment: ["RUNNER_CPU": level.description])
        #expect(result.status == 0, "\(level): \(result.error)")
        let expected = level >= .avx512bf16 ? "bf16" : "fp32"
        let seed = try #require(result.output.components(separatedBy: "configs/cifar10_seed.yaml:").dropFirst().first)
        #expect(seed.contains("precision: \(expected) (auto) on this machine, CPU level \(level)"), "\(level)")
    }

    @Test(
        "an explicit bf16 below the AVX512-BF16 level is one located error whose hint names auto",
        .enabled(if: CPU.detected >= .avx2, "needs a level below avx512bf16 to lower to"))
    func bf16Refused() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let spec = "model: {input: [8, 8, 1], layers: [{flatten: {}}, {dense: {units: 10}}]}\ndata: {dataset: digits}\ntrain:\n  precision: bf16\n"
        try spec.write(to: directory.appendingPathComponent("x.yaml"), atomically: true, encoding: .utf8)
        let result = try runner(["x.yaml", "--runs", "out"], in: directory, environment: ["RUNNER_CPU": "avx2"])
        #expect(result.status == 2)
        let firstLine = result.error.split(separator: "\n").first.map(String.init) ?? ""
        let expectedReason =
            CPU.detected >= .avx512bf16
            ? "needs AVX512-BF16, which RUNNER_CPU=avx2 turns off"
            : "needs a CPU with AVX512-BF16, which this one lacks (it has \(CPU.detected))"
        #expect(firstLine.hasSuffix("x.yaml:4:14: error: precision bf16 \(expectedReason)"), "\(firstLine)")
        #expect(result.error.contains("hint: use precision: auto (bf16 where the CPU has it, fp32 elsewhere) or precision: fp32"))
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path))
    }

    @Test("a RUNNER_CPU that is not a level, or above the CPU's, stops every verb with exit 2 before anything runs")
    func badVariable() throws {
        let unknown = try runner(["check", "configs/digits.yaml"], environment: ["RUNNER_CPU": "avx9"])
        #expect(unknown.status == 2 && unknown.output.isEmpty)
        #expect(unknown.error.hasPrefix("error: RUNNER_CPU=\"avx9\" is not a CPU level\nhint: use one of portable, avx2, avx512, avx512bf16"))
        if CPU.detected < .avx512bf16 {
            let above = try runner(["spec"], environment: ["RUNNER_CPU": "avx512bf16"])
            #expect(above.status == 2 && above.error.contains("can only lower the level"))
        }
    }

    @Test(
        "digits trains at the lowest and the highest level; summary.json, the console and HPARAMS say what ran",
        arguments: [CPULevel.portable, CPU.level])
    func trainsAndReports(level: CPULevel) throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let result = try runner(
            [repository.appendingPathComponent("configs/digits.yaml").path, "--runs", directory.path, "--set", "train.epochs=2"],
            environment: ["RUNNER_CPU": level.description])
        #expect(result.status == 0, "\(result.error)")
        let precision = level >= .avx512bf16 ? "bf16" : "fp32"
        #expect(result.output.contains(", \(precision) (CPU level \(level)) → "), "\(result.output)")
        let summaryURL = directory.appendingPathComponent("digits/default/summary.json")
        let summary = try JSONSerialization.jsonObject(with: Data(contentsOf: summaryURL)) as? [String: Any]
        #expect(summary?["precision"] as? String == precision)
        #expect(summary?["cpu_level"] as? String == level.description)
        #expect(summary?["status"] as? String == "completed")
        let best = (summary?["best"] as? [String: Any])?["val_accuracy"] as? Double ?? 0
        #expect(best > 0.9, "digits after 2 epochs at \(level): \(best)")
        // HPARAMS: the session-start record in the run folder's event file names both.
        let events = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("digits/default").path)
            .filter { $0.hasPrefix("events.out.tfevents") }
        let bytes = try Data(contentsOf: directory.appendingPathComponent("digits/default/" + #require(events.first)))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("train.precision") && text.contains("cpu_level") && text.contains(level.description))
    }

    @Test("--threads above the cores runs one worker per core and says so (1000 once took 7 s for a 0.1 s run; 100,000 deadlocked)")
    func threadsCapped() throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let cores = ProcessInfo.processInfo.activeProcessorCount
        let result = try runner([
            repository.appendingPathComponent("configs/digits.yaml").path, "--runs", directory.path, "--set", "train.epochs=1", "--threads", "100000",
        ])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.error.contains("warning: 100000 threads asked for, but this machine has \(cores) cores; running \(cores)"))
        #expect(result.output.contains(", \(cores) threads, "))
        let summary =
            try JSONSerialization.jsonObject(with: Data(contentsOf: directory.appendingPathComponent("digits/default/summary.json"))) as? [String: Any]
        #expect(summary?["threads"] as? Int == cores)
    }
}

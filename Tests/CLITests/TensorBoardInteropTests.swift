import Foundation
import TensorBoard
import Testing

@Suite("TensorBoard reads what runner writes", .serialized)
struct TensorBoardInteropTests {
    /// configs/digits.yaml swept over three learning rates, the last of which diverges.
    func trainSweep(into scratch: URL) throws -> Outcome {
        var spec = try String(contentsOf: repository.appendingPathComponent("configs/digits.yaml"), encoding: .utf8)
        spec += "\nsweep:\n  train.optimizer.adam.lr: [2.0e-3, 5.0e-4, 1.0e30]\n"
        try spec.write(to: scratch.appendingPathComponent("digits.yaml"), atomically: true, encoding: .utf8)
        return try runner(["digits.yaml", "--set", "train.epochs=2", "--set", "tensorboard.scalars_every_steps=5", "--threads", "1"], in: scratch)
    }

    @Test("every record of every event file: whole frames, right checksums, Events that decode")
    func recordsReadBack() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let result = try trainSweep(into: scratch)
        #expect(result.status == 1)  // the diverging point fails
        let files = FileManager.default.enumerator(atPath: scratch.appendingPathComponent("runs").path)!
            .compactMap { $0 as? String }.filter { $0.contains("tfevents") }
        #expect(files.count == 9)  // 3 runs × (root, train, val)
        var summaries = 0
        for file in files {
            let path = scratch.appendingPathComponent("runs").appendingPathComponent(file).path
            let records = try Records.read(Data(contentsOf: URL(fileURLWithPath: path)), file: path)
            let events = try records.map { try Tensorboard_Event(serializedBytes: $0) }
            #expect(events.first?.fileVersion == "brain.Event:2", "\(file)")
            summaries += events.filter { if case .summary = $0.what { true } else { false } }.count
        }
        #expect(summaries > 20)
    }

    @Test("TensorBoard's EventAccumulator and its HTTP server: scalars, histograms, images, text, graphs, HPARAMS, a cut file")
    func tensorboardItself() throws {
        let python = repository.appendingPathComponent(".venv-test/bin/python")
        try #require(
            FileManager.default.isExecutableFile(atPath: repository.appendingPathComponent(".venv-test/bin/tensorboard").path),
            "run scripts/test.sh: it makes .venv-test with tensorboard")
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        _ = try trainSweep(into: scratch)
        let process = Process()
        process.executableURL = python
        process.arguments = [
            repository.appendingPathComponent("Tests/Interop/check_tensorboard.py").path, "runs", "digits",
            "lr=2.0e-3", "lr=5.0e-4", "lr=1.0e30", "--failed", "lr=1.0e30",
        ]
        process.currentDirectoryURL = scratch
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(output)")
        #expect(output.contains("OK server: 3 runs"))
        #expect(output.contains("OK truncated"))
    }
}

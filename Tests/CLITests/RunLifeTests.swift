import Foundation
import Kernels
import TensorBoard
import Testing
import Train

/// Starts `runner` without waiting for it.
func launch(_ arguments: [String], in directory: URL = repository, log: URL, executable: URL = runnerBinary) throws -> Process {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    process.currentDirectoryURL = directory
    FileManager.default.createFile(atPath: log.path, contents: nil)
    let handle = try FileHandle(forWritingTo: log)
    handle.seekToEndOfFile()
    process.standardOutput = handle
    process.standardError = handle
    try process.run()
    return process
}

func summary(_ run: URL) throws -> RunSummary {
    try JSONDecoder().decode(RunSummary.self, from: Data(contentsOf: run.appendingPathComponent("summary.json")))
}

func withoutTimings(_ history: [EpochMetrics]) -> [EpochMetrics] {
    history.map {
        var m = $0; m.seconds = 0; m.imagesPerSecond = 0; return m
    }
}

/// Every visible checkpoint decodes completely.
func checkpointsAreWhole(_ run: URL) throws -> Int {
    let folder = run.appendingPathComponent("checkpoints")
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
    var count = 0
    for name in names where !name.hasPrefix(".") {
        #expect(name.hasPrefix("step-") && name.hasSuffix(".safetensors"), "unexpected file \(name)")
        _ = try SafeTensors.decode(Data(contentsOf: folder.appendingPathComponent(name)), file: name)
        count += 1
    }
    return count
}

@Suite("A run's whole life", .serialized)
struct RunLifeTests {
    let digits = ["configs/digits.yaml", "--set", "train.epochs=4", "--threads", "1"]
    /// Long enough (50 epochs, several seconds at one thread) that most of 20 random kills at
    /// 0.1–0.9 s land mid-run, even on a fast machine (30 epochs let only 9 land once).
    let longDigits = ["configs/digits.yaml", "--threads", "1", "--set", "train.epochs=50"]

    @Test("kill -9 at 20 random moments, resumed each time: the same final metrics, bit for bit; never a partial checkpoint; every event file reads")
    func killNine() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let reference = try runner(longDigits + ["--runs", scratch.appendingPathComponent("reference").path])
        #expect(reference.status == 0, "\(reference.error)")
        let runs = scratch.appendingPathComponent("killed")
        let run = runs.appendingPathComponent("digits/default")
        var random = SystemRandomNumberGenerator()
        var killedMidRun = 0
        for _ in 0 ..< 20 {
            let process = try launch(longDigits + ["--runs", runs.path], log: scratch.appendingPathComponent("log.txt"))
            usleep(UInt32.random(in: 100_000 ... 900_000, using: &random))
            if process.isRunning { kill(process.processIdentifier, SIGKILL); killedMidRun += 1 }
            process.waitUntilExit()
            _ = try checkpointsAreWhole(run)
        }
        let last = try runner(longDigits + ["--runs", runs.path])
        #expect(last.status == 0, "\(last.error)")
        #expect(killedMidRun >= 10, "too few kills landed mid-run to mean anything: \(killedMidRun)")
        let expected = try summary(scratch.appendingPathComponent("reference/digits/default"))
        let resumed = try summary(run)
        #expect(resumed.status == .completed)
        #expect(withoutTimings(resumed.history) == withoutTimings(expected.history))
        #expect(try checkpointsAreWhole(run) >= 1)
        // Every event file of every invocation reads: whole records with good checksums (a
        // killed writer may leave one partial record at the end, which readers wait on).
        let events = FileManager.default.enumerator(atPath: run.path)!.compactMap { $0 as? String }.filter { $0.contains("tfevents") }
        #expect(events.count >= 3 * 2)
        for file in events {
            let path = run.appendingPathComponent(file).path
            let records = try Records.read(Data(contentsOf: URL(fileURLWithPath: path)), file: path)
            #expect(records.count >= 1)
            for record in records { _ = try Tensorboard_Event(serializedBytes: record) }
        }
        let python = repository.appendingPathComponent(".venv-test/bin/python")
        try #require(FileManager.default.isExecutableFile(atPath: python.path), "run scripts/test.sh: it makes .venv-test with tensorboard")
        let process = Process()
        process.executableURL = python
        process.arguments = [
            "-c",
            """
            import os, sys
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            for sub in ("", "train", "val"):
                ea = EventAccumulator(os.path.join(sys.argv[1], sub)); ea.Reload()
                assert ea.Tags()["scalars"] or sub == "", (sub, ea.Tags())
            val = EventAccumulator(os.path.join(sys.argv[1], "val")); val.Reload()
            print(len(val.Scalars("accuracy")))
            """, run.path,
        ]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(Int(printed.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0 >= 30, "TensorBoard read \(printed) val/accuracy points")
    }

    @Test("SIGINT: a checkpoint at the current step, status interrupted, exit 130; SIGTERM: 143; then it resumes", arguments: [SIGINT, SIGTERM])
    func signals(signal: Int32) throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let runs = scratch.appendingPathComponent("runs")
        let process = try launch(longDigits + ["--runs", runs.path], log: scratch.appendingPathComponent("log.txt"))
        usleep(600_000)
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationStatus == 128 + signal)
        let run = runs.appendingPathComponent("digits/default")
        let stopped = try summary(run)
        #expect(stopped.status == .interrupted)
        #expect(stopped.error?.contains(signal == SIGINT ? "stopped by SIGINT" : "stopped by SIGTERM") == true)
        // SIGTERM's run resumes with the portable kernels (where the CPU has more): it goes on,
        // and says that its results now differ in the last bits.
        let other = signal == SIGTERM && CPU.level > .portable
        let again = try runner(longDigits + ["--runs", runs.path], environment: other ? ["RUNNER_CPU": "portable"] : [:])
        #expect(again.status == 0)
        #expect(again.output.contains("Resuming digits/default from step-"))
        let before = "\(CPU.level >= .avx512bf16 ? "bf16" : "fp32") at \(CPU.level)"
        #expect(
            again.output.contains("note: the checkpoint was computed in \(before), this machine continues in fp32 at portable") == other,
            "\(again.output)")
        #expect(try summary(run).status == .completed)
    }

    @Test("a 2×2 sweep with one diverging point: the others finish, the table says so, exit 1; again: the 3 done are skipped")
    func sweepWithFailure() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        try """
        name: sw
        seed: 1
        model:
          input: [8, 8, 1]
          layers:
            - conv: {filters: 8, kernel: 3, activation: relu}
            - flatten: {}
            - dense: {units: 10}
        data: {dataset: digits}
        train:
          epochs: 2
          optimizer: {sgd: {lr: 0.05}}
          schedule: {steps: {at_epochs: [1], values: [0.05]}}
        sweep:
          train.schedule.steps.values: [[0.05], [1.0e30]]     # diverges once it applies,
          train.schedule.steps.at_epochs: [[1], [5]]           # which at_epochs [5] never lets it
        """.write(to: scratch.appendingPathComponent("sweep.yaml"), atomically: true, encoding: .utf8)
        let dry = try runner(["sweep.yaml", "--dry-run"], in: scratch)
        #expect(dry.status == 0 && dry.output.components(separatedBy: "  new  ").count == 5)
        #expect(!FileManager.default.fileExists(atPath: scratch.appendingPathComponent("runs").path))
        let first = try runner(["sweep.yaml"], in: scratch)
        #expect(first.status == 1)
        let lines = first.output.components(separatedBy: "\n")
        let header = try #require(lines.firstIndex { $0.hasPrefix("run ") && $0.contains("status") })
        let table = lines[(header + 1)...].filter { !$0.isEmpty && !$0.hasPrefix("Time left") }
        #expect(table.count == 4, "\(table)")
        #expect(table.filter { $0.contains("  completed  ") }.count == 3)
        // The failed point's epochs are still to train: the time left, at the completed points' rate.
        #expect(first.output.contains("Time left for the sweep: about 0:0"), "\(first.output)")
        #expect(
            table.contains {
                $0.hasPrefix("sw/values=[1.0e30],at_epochs=[1]") && $0.contains("  failed  ") && $0.contains("the loss became")
                    && $0.contains("the first non-finite output is layer 'dense1' (dense)")
            })
        let second = try runner(["sweep.yaml"], in: scratch)
        #expect(second.status == 1)
        #expect(second.output.components(separatedBy: "already completed").count == 4)
    }

    @Test("a changed spec is refused with the differing keys; --restart trains it anew")
    func changedSpec() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let runs = scratch.appendingPathComponent("runs").path
        #expect(try runner(["configs/xo.yaml", "--runs", runs, "--set", "train.epochs=1"]).status == 0)
        let refused = try runner(["configs/xo.yaml", "--runs", runs, "--set", "train.epochs=2"])
        #expect(refused.status == 1)
        #expect(refused.error.contains("error: the spec of xo/default changed since it was started: train.epochs: 1 → 2"))
        #expect(refused.error.contains("hint: run with --restart"))
        let restarted = try runner(["configs/xo.yaml", "--runs", runs, "--set", "train.epochs=2", "--restart"])
        #expect(restarted.status == 0)
        #expect(try summary(URL(fileURLWithPath: runs).appendingPathComponent("xo/default")).epochsCompleted == 2)
    }

    @Test("--jobs 2 trains two sweep points at once, each in its own process")
    func parallelJobs() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let result = try runner([repository.appendingPathComponent("configs/xo.yaml").path, "--set", "train.epochs=1", "--jobs", "2"], in: scratch)
        #expect(result.status == 0)  // a single run: --jobs changes nothing
        try """
        name: par
        model: {input: [12, 12, 1], layers: [{conv: {filters: 4, kernel: 3}}, {flatten: {}}, {dense: {units: 2}}]}
        data: {dataset: xo, samples: 200}
        train: {epochs: 2}
        sweep: {seed: [1, 2]}
        """.write(to: scratch.appendingPathComponent("par.yaml"), atomically: true, encoding: .utf8)
        let parallel = try runner(["par.yaml", "--jobs", "2"], in: scratch)
        #expect(parallel.status == 0, "\(parallel.output)\(parallel.error)")
        for run in ["seed=1", "seed=2"] {
            let folder = scratch.appendingPathComponent("runs/par/\(run)")
            #expect(try summary(folder).status == .completed)
            #expect(try String(contentsOf: folder.appendingPathComponent("console.log"), encoding: .utf8).contains("Epoch 2 - loss"))
        }
        // Issue 13, finding 7: again, every run is done; each child adds to its log, never replaces it.
        let again = try runner(["par.yaml", "--jobs", "2"], in: scratch)
        #expect(again.status == 0, "\(again.output)\(again.error)")
        for run in ["seed=1", "seed=2"] {
            let log = try String(contentsOf: scratch.appendingPathComponent("runs/par/\(run)/console.log"), encoding: .utf8)
            #expect(log.contains("Epoch 2 - loss") && log.contains("already completed"), "\(log)")
        }
        #expect(again.output.components(separatedBy: "  completed  ").count == 3, "\(again.output)")
    }

    @Test(
        "finding 7: a second runner skips a --jobs runner's runs as locked (exit 75); SIGKILL of the --jobs parent stops its children, which checkpoint"
    )
    func jobsLockedAndOrphans() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        try """
        name: long
        model: {input: [12, 12, 1], layers: [{conv: {filters: 4, kernel: 3}}, {flatten: {}}, {dense: {units: 2}}]}
        data: {dataset: xo, samples: 400}
        train: {epochs: 5000, log_every_steps: 1}
        sweep: {seed: [1, 2]}
        """.write(to: scratch.appendingPathComponent("long.yaml"), atomically: true, encoding: .utf8)
        let parent = Process()
        parent.executableURL = runnerBinary
        parent.arguments = ["long.yaml", "--jobs", "2"]
        parent.currentDirectoryURL = scratch
        parent.standardOutput = FileHandle.nullDevice
        parent.standardError = FileHandle.nullDevice
        try parent.run()
        defer { if parent.isRunning { kill(parent.processIdentifier, SIGKILL) } }
        let runs = ["seed=1", "seed=2"].map { scratch.appendingPathComponent("runs/long/\($0)") }
        func log(_ run: URL) -> String { (try? String(contentsOf: run.appendingPathComponent("console.log"), encoding: .utf8)) ?? "" }
        var deadline = Date().addingTimeInterval(60)
        while Date() < deadline, !runs.allSatisfy({ log($0).contains("Global step: 2") }) { usleep(50_000) }
        try #require(runs.allSatisfy { log($0).contains("Global step: 2") }, "the children did not start training")
        let second = try runner(["long.yaml"], in: scratch)
        #expect(second.status == 75, "\(second.output)\(second.error)")
        #expect(second.output.components(separatedBy: "  locked  ").count == 3, "\(second.output)")
        #expect(second.error.contains("error: another runner (pid "))
        kill(parent.processIdentifier, SIGKILL)
        parent.waitUntilExit()
        deadline = Date().addingTimeInterval(30)
        while Date() < deadline, !runs.allSatisfy({ (try? summary($0).status) == .interrupted }) { usleep(100_000) }
        for run in runs {
            #expect(try summary(run).status == .interrupted, "\(run.lastPathComponent) trains on after its parent died")
            #expect(log(run).contains("Global step: 2"), "the log was replaced")
        }
    }

    @Test("--jobs runs runner's own binary: invoked through PATH, a file named runner in the current folder is never executed")
    func jobsRunOwnBinary() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let decoy = scratch.appendingPathComponent("runner")
        try "#!/bin/sh\ntouch \"$(dirname \"$0\")/decoy-ran\"\nexit 0\n".write(to: decoy, atomically: true, encoding: .utf8)
        try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: decoy.path)
        try """
        name: par
        model: {input: [12, 12, 1], layers: [{flatten: {}}, {dense: {units: 2}}]}
        data: {dataset: xo, samples: 100}
        train: {epochs: 1}
        sweep: {seed: [1, 2]}
        """.write(to: scratch.appendingPathComponent("par.yaml"), atomically: true, encoding: .utf8)
        // argv[0] is the bare name "runner", as when a shell finds it on PATH.
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let path = runnerBinary.deletingLastPathComponent().path + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        process.arguments = ["PATH=\(path)", "runner", "par.yaml", "--jobs", "2"]
        process.currentDirectoryURL = scratch
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(!FileManager.default.fileExists(atPath: scratch.appendingPathComponent("decoy-ran").path), "the decoy ./runner was executed")
        for run in ["seed=1", "seed=2"] {
            #expect(try summary(scratch.appendingPathComponent("runs/par/\(run)")).status == .completed)
        }
    }

    @Test("Python's safetensors opens a checkpoint: the same names, shapes and values as runner's own reading")
    func pythonReadsCheckpoints() throws {
        let python = repository.appendingPathComponent(".venv-test/bin/python")
        try #require(FileManager.default.isExecutableFile(atPath: python.path), "run scripts/test.sh: it makes .venv-test with safetensors")
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let runs = scratch.appendingPathComponent("runs")
        #expect(try runner(["configs/xo.yaml", "--runs", runs.path, "--set", "train.epochs=1"]).status == 0)
        let folder = runs.appendingPathComponent("xo/default/checkpoints")
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: folder.path).first { $0.hasPrefix("step-") })
        let path = folder.appendingPathComponent(name).path
        let script = """
            import json, sys
            from safetensors import safe_open
            from safetensors.numpy import load_file
            tensors = load_file(sys.argv[1])
            with safe_open(sys.argv[1], framework="numpy") as f:
                metadata = f.metadata()
            print(json.dumps({"metadata": metadata, "tensors": {k: {"shape": list(v.shape), "dtype": str(v.dtype),
                "values": [float(x) for x in v.reshape(-1)]} for k, v in tensors.items()}}))
            """
        let process = Process()
        process.executableURL = python
        process.arguments = ["-c", script, path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let json = try #require(try JSONSerialization.jsonObject(with: output) as? [String: Any])
        let tensors = try #require(json["tensors"] as? [String: [String: Any]])
        let metadata = try #require(json["metadata"] as? [String: String])
        let ours = try SafeTensors.decode(Data(contentsOf: URL(fileURLWithPath: path)), file: path)
        #expect(Set(tensors.keys) == Set(ours.names))
        #expect(
            tensors.keys.contains("conv1/weight") && tensors.keys.contains("optimizer/adam/m/conv1/weight")
                && tensors.keys.contains("optimizer/adam/v/dense1/bias"))
        for (tensorName, tensor) in ours.tensors {
            #expect(tensors[tensorName]?["dtype"] as? String == "float32")
            #expect(tensors[tensorName]?["shape"] as? [Int] == tensor.shape)
            let values = (tensors[tensorName]?["values"] as? [Double])?.map(Float.init) ?? []
            let same = values == tensor.values
            #expect(same, "\(tensorName) differs")
        }
        #expect(metadata["epoch"] == "1" && metadata["experiment"] == "xo" && metadata["runner_version"] != nil)
    }

    @Test("eval prints loss, accuracy and a confusion matrix that agree with the run; runs lists it")
    func evalAndRuns() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let runs = scratch.appendingPathComponent("runs")
        #expect(try runner(digits + ["--runs", runs.path]).status == 0)
        let run = runs.appendingPathComponent("digits/default")
        let trained = try summary(run)
        let result = try runner(["eval", run.path, "--split", "validation"])
        #expect(result.status == 0, "\(result.error)")
        let best = try #require(trained.best)
        #expect(result.output.contains(String(format: "accuracy %.2f%%", best.validationAccuracy * 100)))
        // The matrix's rows add up to the 359 validation images.
        let rows = result.output.components(separatedBy: "\n").filter { $0.first?.isNumber == true }
        #expect(rows.count == 10)
        var total = 0
        for row in rows { for cell in row.split(separator: " ").dropFirst() { total += Int(cell) ?? 0 } }
        #expect(total == 359)
        let test = try runner(["eval", run.path])
        #expect(test.status == 2 && test.error.contains("digits has no test split"))
        let listed = try runner(["runs", runs.path, "--sort", "val_accuracy"])
        #expect(listed.output.contains("digits/default") && listed.output.contains("completed"))
        let bad = try runner(["eval", scratch.appendingPathComponent("nothing").path])
        #expect(bad.status == 2 && bad.error.contains("does not exist"))
    }
}

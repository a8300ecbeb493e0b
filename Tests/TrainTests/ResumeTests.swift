import Datasets
import Foundation
import Kernels
import Layers
import Plan
import Spec
import Testing
import Train
import Yams

/// Requests a stop once the run reaches a given global step.
final class StopAt: TrainingObserver {
    let step: Int
    let request: StopRequest
    init(_ step: Int, _ request: StopRequest) { self.step = step; self.request = request }
    func runStarted(_ run: RunInfo) {}
    func stepFinished(_ metrics: StepMetrics) { if metrics.globalStep == step { request.request(SIGINT) } }
    func epochFinished(_ metrics: EpochMetrics) {}
    func runFinished(_ summary: RunSummary) {}
}

/// A short digits run with dropout, so that resuming must restore the dropout stream too.
func shortDigits(epochs: Int = 3) throws -> Experiment {
    var experiment = try Experiment.load(path: config("digits"))
    experiment.spec.train.epochs = epochs
    experiment.spec.train.batchSize = 64
    experiment.spec.train.logEverySteps = 1
    return experiment
}

/// Metrics without the timing fields, which differ between any two runs.
func comparable(_ history: [EpochMetrics]) -> [EpochMetrics] {
    history.map {
        var m = $0; m.seconds = 0; m.imagesPerSecond = 0; return m
    }
}

func trainInto(_ directory: URL, _ experiment: Experiment, stopAt: Int? = nil, threads: Int = 1) throws -> RunSummary {
    let data = try experiment.loadData()
    let trainer = Trainer(experiment: experiment, train: data.train, validation: data.validation, threads: threads)
    let request = StopRequest()
    if let stopAt { trainer.add(StopAt(stopAt, request)) }
    return try trainer.run(directory: directory.path, runName: "default", stop: request)
}

@Suite("Checkpoints and resume", .serialized)
struct ResumeTests {
    @Test(
        "a run stopped at any step and resumed ends bit-identical to one that never stopped",
        arguments: [(1, "fp32", 1), (22, "fp32", 1), (23, "fp32", 1), (40, "fp32", 1), (45, "fp32", 1), (57, "fp32", 1)]
            + (Precision.bf16.isAvailable ? [(22, "bf16", 2), (45, "bf16", 2)] : []))
    func exactResume(stopAt: Int, precision: String, threads: Int) throws {
        var experiment = try shortDigits()
        experiment.spec.train.precision = PrecisionSetting(rawValue: precision)!
        let reference = try temporaryDirectory(), resumed = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: reference); try? FileManager.default.removeItem(at: resumed) }
        let full = try trainInto(reference, experiment, threads: threads)
        let first = try trainInto(resumed, experiment, stopAt: stopAt, threads: threads)
        #expect(first.status == .interrupted)
        let second = try trainInto(resumed, experiment, threads: threads)
        #expect(second.status == .completed)
        #expect(second.resumedFrom == "step-\(stopAt).safetensors")
        #expect(comparable(second.history) == comparable(full.history))
        // The final weights too, not only the metrics.
        let a = try SafeTensors.decode(Data(contentsOf: reference.appendingPathComponent("checkpoints/step-69.safetensors")), file: "a")
        let b = try SafeTensors.decode(Data(contentsOf: resumed.appendingPathComponent("checkpoints/step-69.safetensors")), file: "b")
        #expect(a.names == b.names)
        for name in a.names {
            let same = a.tensors[name]!.values == b.tensors[name]!.values  // not inside #expect: its diff of 100k floats takes minutes
            #expect(same, "\(name) differs")
        }
    }

    @Test("keeps the newest keep_last checkpoints and the best one")
    func pruning() throws {
        var experiment = try shortDigits(epochs: 5)
        experiment.spec.checkpoint = CheckpointSpec(everyEpochs: 1, keepLast: 2, keepBest: .validationLoss)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let summary = try trainInto(directory, experiment)
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.appendingPathComponent("checkpoints").path).sorted()
        let best = try #require(summary.bestCheckpoint)
        let bestEpoch = summary.history.min { $0.validationLoss < $1.validationLoss }!.epoch
        #expect(best == "step-\(bestEpoch * 23).safetensors")
        #expect(Set(names) == Set(["step-92.safetensors", "step-115.safetensors", best]))
        #expect(!names.contains { $0.contains("tmp") })
    }

    @Test("early stopping ends the run when the metric stops improving")
    func earlyStopping() throws {
        var experiment = try shortDigits(epochs: 10)
        experiment.spec.earlyStopping = EarlyStoppingSpec(metric: .validationAccuracy, mode: .max, patience: 2, minDelta: 0.5)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let summary = try trainInto(directory, experiment)
        #expect(summary.status == .completed)
        #expect(summary.stoppedEarly == true)
        #expect(summary.epochsCompleted == 3)  // epoch 1 sets the best; 2 and 3 cannot beat it by 0.5
    }

    @Test("the checkpoint-load fuzz target's seed restores into its spec: the fuzzer starts from a file that passes every check")
    func fuzzSeedRestores() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let experiment = try Experiment.load(path: root.appendingPathComponent("Fuzz/fuzzxo.yaml").path)
        let plan = Plan(graph: experiment.graph, capacity: 32, trainable: true, seed: 3, workers: 1, precision: .fp32)
        let path = root.appendingPathComponent("Fuzz/corpus/checkpoint-load/fuzzxo-step-50.safetensors").path
        let file = try Checkpoints.read(path)
        let state = try Checkpoints.restore(
            file, path: path, step: 50, plan: plan, optimizer: Optimizer(experiment.spec.train.optimizer, plan: plan),
            spec: experiment.spec, dataFingerprint: file.metadata["data_fingerprint"] ?? "", stepsPerEpoch: 50)
        #expect(state.epoch == 1 && state.globalStep == 50)
        let convention = try #require(try Checkpoints.inputConvention(file, path: path))
        try Checkpoints.check(convention, against: experiment.graph, path: path)
    }

    @Test("a checkpoint of another spec is refused, naming the file")
    func otherSpec() throws {
        let experiment = try shortDigits(epochs: 1)
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        _ = try trainInto(directory, experiment)
        var changed = experiment
        changed.spec.train.epochs = 2
        #expect(throws: CheckpointError.self) { try trainInto(directory, changed) }
    }
}

@Suite("safetensors")
struct SafeTensorsTests {
    @Test("round trip: names, shapes, values and metadata")
    func roundTrip() throws {
        var file = SafeTensors()
        let a: [Float] = [1, -2.5, .greatestFiniteMagnitude, 0]
        a.withUnsafeBufferPointer { file.add("conv1/weight", shape: [2, 2], values: $0) }
        [Float]([7]).withUnsafeBufferPointer { file.add("b", shape: [1], values: $0) }
        file.metadata = ["epoch": "3"]
        let data = file.encoded()
        #expect((Int(data[0]) | Int(data[1]) << 8) % 8 == 0)  // header padded to 8 bytes
        let back = try SafeTensors.decode(data, file: "x")
        #expect(back.names == ["conv1/weight", "b"])
        #expect(back.tensors["conv1/weight"]!.values == a && back.tensors["conv1/weight"]!.shape == [2, 2])
        #expect(back.metadata == ["epoch": "3"])
    }

    @Test(
        "damaged files are errors that name the file and the byte",
        arguments: [
            ("", "x.safetensors: byte 0: error: the file is 0 bytes, shorter than the 8-byte header length"),
            ("\u{FF}\u{FF}\u{FF}\u{FF}\u{00}\u{00}\u{00}\u{00}{}", "x.safetensors: byte 0: error: the header length"),
            ("\u{02}\u{00}\u{00}\u{00}\u{00}\u{00}\u{00}\u{00}[]", "x.safetensors: byte 8: error: the header is not a JSON object"),
        ])
    func damaged(bytes: String, expected: String) {
        #expect {
            _ = try SafeTensors.decode(
                Data(bytes.utf8.map { $0 }.count == bytes.unicodeScalars.count ? Data(bytes.unicodeScalars.map { UInt8($0.value) }) : Data(bytes.utf8)),
                file: "x.safetensors")
        } throws: { error in
            (error as? CheckpointError)?.description.hasPrefix(expected) == true
        }
    }

    @Test("a truncated checkpoint: an error at the tensor that no longer fits")
    func truncated() throws {
        var file = SafeTensors()
        [Float](repeating: 1, count: 100).withUnsafeBufferPointer { file.add("w", shape: [10, 10], values: $0) }
        let data = file.encoded()
        #expect {
            _ = try SafeTensors.decode(data.prefix(data.count - 1), file: "t.safetensors")
        } throws: { error in
            (error as? CheckpointError)?.description.contains("tensor 'w' with shape [10, 10] does not fit") == true
        }
    }
}

@Suite("Sweeps and overrides")
struct SweepTests {
    func write(_ yaml: String, extra: [String: String] = [:]) throws -> String {
        let directory = try temporaryDirectory()
        for (name, text) in extra { try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        let path = directory.appendingPathComponent("s.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    let base = """
        name: s
        model:
          input: [8, 8, 1]
          layers:
            - conv: {filters: 4, kernel: 3}
            - flatten: {}
            - dense: {units: 10}
        data: {dataset: digits}
        train: {optimizer: {adam: {lr: 0.001}}}
        """

    @Test("a grid: every combination, the first key slowest, named by the varied keys")
    func grid() throws {
        let path = try write(base + "\nsweep:\n  train.optimizer.adam.lr: [1.0e-3, 3.0e-4]\n  train.batch_size: [64, 128]\n")
        let runs = try ExperimentSpec.expand(path: path)
        #expect(runs.map(\.runName) == ["lr=1.0e-3,batch_size=64", "lr=1.0e-3,batch_size=128", "lr=3.0e-4,batch_size=64", "lr=3.0e-4,batch_size=128"])
        #expect(runs[3].spec.train.batchSize == 128 && runs[3].spec.train.optimizer.learningRate == 3e-4)
    }

    @Test("random points are drawn from the seed: the same each time, in range")
    func random() throws {
        let path = try write(
            base
                + "\nseed: 4\nsweep:\n  random: 5\n  train.optimizer.adam.lr: {log_uniform: [1.0e-4, 1.0e-2]}\n  model.layers.0.conv.filters: "
                + "{int_uniform: [2, 9]}\n"
        )
        let first = try ExperimentSpec.expand(path: path), second = try ExperimentSpec.expand(path: path)
        #expect(first.count == 5 && first.map(\.runName) == second.map(\.runName))
        for run in first {
            #expect((1e-4 ... 1e-2).contains(run.spec.train.optimizer.learningRate))
            let filters = (run.spec.model.layers[0].layer as? Layers.Conv)?.filters ?? 0
            #expect((2 ... 9).contains(filters))
        }
    }

    @Test("overrides reach into a model file, and --set applies to every point")
    func overrides() throws {
        let path = try write(
            "name: s\nmodel: m.yaml\ndata: {dataset: digits}\nsweep:\n  model.layers.0.conv.filters: [4, 6]\n",
            extra: ["m.yaml": "input: [8, 8, 1]\nlayers:\n  - conv: {filters: 3, kernel: 3}\n  - flatten: {}\n  - dense: {units: 10}\n"])
        let set = try Override.parse(assignment: "train.epochs=7")
        let runs = try ExperimentSpec.expand(path: path, overrides: [set])
        #expect(runs.map(\.runName) == ["filters=4", "filters=6"])
        #expect(runs.allSatisfy { $0.spec.train.epochs == 7 })
        #expect((runs[1].spec.model.layers[0].layer as? Layers.Conv)?.filters == 6)
    }

    @Test("a sweep value that does not fit is an error at the sweep's line")
    func badValue() throws {
        let path = try write(base + "\nsweep:\n  train.batch_size: [64, zero]\n")
        #expect { _ = try ExperimentSpec.expand(path: path) } throws: { error in
            let e = error as? SpecError
            return e?.location.line == 11 && e?.message == "'batch_size' must be a whole number, got 'zero'"
        }
        let unknown = try write(base + "\nsweep:\n  trian.epochs: [1, 2]\n")
        #expect { _ = try ExperimentSpec.expand(path: unknown) } throws: { error in
            (error as? SpecError)?.hint.hasPrefix("did you mean 'train'?") == true
        }
    }
}

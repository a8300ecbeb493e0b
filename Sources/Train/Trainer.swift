import Datasets
import Files
import Foundation
import Graph
import Kernels
import Plan
import Spec
import Tensor

/// Runs one experiment: epochs of shuffled batches, an optimizer step per batch, validation
/// after each epoch, metrics to observers, and the run directory's files.
public final class Trainer {
    public let experiment: Experiment
    public let train: Dataset
    public let validation: Dataset
    /// The test split, when the spec evaluates it (`data.test`); never used to choose anything.
    public let test: Dataset?
    public let plan: Plan
    public let optimizer: Optimizer
    public let threads: Int
    /// The processes training this run together (one, unless launched by mpirun).
    public let collective: any Collective
    /// Examples per optimizer step, over every rank; the plan holds this rank's share.
    public let globalBatch: Int
    /// Why fewer threads run than were asked for (more than the cores), or nil.
    let threadNote: String?
    var observers: [any TrainingObserver] = []

    let augmentation: Augmentation

    public init(
        experiment: Experiment, train: Dataset, validation: Dataset, test: Dataset? = nil, threads: Int? = nil,
        collective: any Collective = SingleProcess()
    ) {
        self.experiment = experiment
        self.collective = collective
        self.train = train
        self.validation = validation
        self.test = test
        augmentation = experiment.spec.data.augment
        let spec = experiment.spec
        let wanted = threads ?? (spec.train.threads > 0 ? spec.train.threads : WorkerPool.defaultCount())
        (self.threads, threadNote) = WorkerPool.workers(requested: wanted)
        globalBatch = min(spec.train.batchSize, max(train.count, 1))
        plan = Plan(
            graph: experiment.graph, capacity: (globalBatch + collective.size - 1) / collective.size, trainable: true,
            seed: UInt64(bitPattern: Int64(spec.seed)), workers: self.threads, precision: experiment.precision)
        Whitening.apply(plan: plan, data: train)  // before the optimizer: lookahead starts from these weights
        let stepsPerEpoch = (train.count + globalBatch - 1) / globalBatch
        optimizer = Optimizer(
            spec.train.optimizer, plan: plan, groups: spec.train.groups, lookahead: spec.train.lookahead, totalSteps: spec.train.epochs * stepsPerEpoch)
    }

    public func add(_ observer: any TrainingObserver) { observers.append(observer) }

    /// Where a non-finite loss came from: the first non-finite parameter, or the first layer
    /// whose output is not finite when the batch runs forward again.
    func divergenceDiagnosis(batch: Int) -> String {
        if let parameter = plan.firstNonFiniteParameter() { return ": parameter '\(parameter.name)' is not finite" }
        plan.forward(batch: batch, training: true)
        if let index = plan.firstNonFiniteOutput(batch: batch) {
            let node = experiment.graph.nodes[index]
            return ": the first non-finite output is layer '\(node.name)' (\(node.kind))"
        }
        return ": every layer output is finite, the loss overflowed"
    }

    /// The predicted class of each example at `indices` of a dataset, in inference mode.
    public func predict(_ data: Dataset, indices: [Int]) -> [Int] {
        var predictions: [Int] = []
        let classes = experiment.graph.outputShape.count
        var start = 0
        while start < indices.count {
            let count = min(plan.capacity, indices.count - start)
            data.fill(order: indices, start: start, count: count, images: plan.input, labels: plan.labels)
            plan.forward(batch: count, training: false)
            for n in 0 ..< count { predictions.append(argmax(plan.logits.baseAddress! + n * classes, count: classes)) }
            start += count
        }
        return predictions
    }

    /// Loss and accuracy over a whole dataset, in inference mode.
    public func evaluate(_ data: Dataset, tta: TestTimeAugmentation = .none) -> (loss: Double, accuracy: Double) {
        let result = Evaluation(plan, on: data, tta: tta)
        return (result.loss, result.accuracy)
    }

    /// Trains to the end, to early stopping, to a non-finite loss or to a stop request, and
    /// returns the summary. Writes `config.yaml`, `summary.json` and checkpoints under
    /// `directory`; when the directory already holds checkpoints, continues from the newest,
    /// exactly: the same metrics, bit for bit, as a run that never stopped.
    public func run(directory: String, runName: String, stop: StopRequest? = nil) throws -> RunSummary {
        // Every rank starts, or none: one that could not (rank 0 writes the folder's files) would
        // leave the others waiting in the first step's sum.
        var run: TrainingRun?, failure: (any Error)?
        do { run = try TrainingRun(self, directory: directory, runName: runName, stop: stop) } catch { failure = error }
        guard !collective.any(failure != nil), let run else {
            throw failure ?? CheckpointError(file: directory, "rank 0 could not start the run", hint: "see rank 0's message")
        }
        defer { run.prefetcher.drain() }
        run.announce()
        while run.state.epoch < experiment.spec.train.epochs {
            let epochStart = Date()
            guard let learningRate = run.trainEpoch() else { break }
            guard try run.finishEpoch(started: epochStart, learningRate: learningRate) else { break }
        }
        return try run.finish()
    }
}

/// Loss, accuracy and confusion matrix of a plan over a whole dataset, in inference mode, a
/// plan's capacity at a time: the one evaluation loop (the trainer's validation and test
/// passes, `runner eval`).
public struct Evaluation {
    public private(set) var lossSum = 0.0
    public private(set) var correct = 0
    public let count: Int
    /// confusion[true class][predicted class].
    public private(set) var confusion: [[Int]]

    public var loss: Double { lossSum / Double(max(count, 1)) }
    public var accuracy: Double { Double(correct) / Double(max(count, 1)) }

    /// `tta`: the views whose logits are averaged for each image (none: the image itself).
    public init(_ plan: Plan, on data: Dataset, tta: TestTimeAugmentation = .none) {
        let classes = plan.graph.outputShape.count, size = plan.graph.input.count
        count = data.count
        var lossSum = 0.0, correct = 0
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        func record(_ logits: UnsafePointer<Float>, batch: Int) {
            let result = softmaxCrossEntropy(logits, labels: plan.labels.baseAddress!, batch: batch, classes: classes, nil)
            lossSum += result.lossSum
            correct += result.correct
            for n in 0 ..< batch { confusion[Int(plan.labels[n])][argmax(logits + n * classes, count: classes)] += 1 }
        }
        let order = Array(0 ..< data.count)
        // With views: the batch's images as read, and the views' weighted sum of logits.
        var original = [Float](repeating: 0, count: tta == .none ? 0 : plan.capacity * size)
        var averaged = [Float](repeating: 0, count: tta == .none ? 0 : plan.capacity * classes)
        var start = 0
        while start < data.count {
            let batch = min(plan.capacity, data.count - start)
            data.fill(order: order, start: start, count: batch, images: plan.input, labels: plan.labels)
            if tta == .none {
                plan.forward(batch: batch, training: false)
                record(plan.logits.baseAddress!, batch: batch)
            } else {
                forwardAveragingViews(plan, batch: batch, views: tta, original: &original, averaged: &averaged)
                averaged.withUnsafeBufferPointer { record($0.baseAddress!, batch: batch) }
            }
            start += batch
        }
        self.lossSum = lossSum
        self.correct = correct
        self.confusion = confusion
    }
}

/// Test-time augmentation of the `batch` images in the plan's input: each view rendered and
/// run, `averaged` (batch × classes) their weighted sum of logits. `original` (batch × input
/// size floats) keeps the images meanwhile; the input is left holding the last view.
public func forwardAveragingViews(_ plan: Plan, batch: Int, views: TestTimeAugmentation, original: inout [Float], averaged: inout [Float]) {
    let size = plan.graph.input.count, classes = plan.graph.outputShape.count
    for i in 0 ..< batch * size { original[i] = plan.input[i] }
    for i in 0 ..< batch * classes { averaged[i] = 0 }
    for view in views.views {
        original.withUnsafeBufferPointer { source in
            TestTimeAugmentation.render(
                mirror: view.mirror, dy: view.dy, dx: view.dx, source.baseAddress!, count: batch, shape: plan.graph.input, plan.input.baseAddress!)
        }
        plan.forward(batch: batch, training: false)
        for i in 0 ..< batch * classes { averaged[i] += view.weight * plan.logits[i] }
    }
}

func isBetter(_ value: Double, than other: Double, metric: Metric) -> Bool {
    metric.increases ? value > other : value < other
}

/// Set from a signal handler, read once per training step: the trainer then writes a
/// checkpoint and stops. Holds the signal number, 0 while none arrived.
/// `polling`, when given, is asked too (the CLI's signal handlers record the signal in C).
public final class StopRequest: @unchecked Sendable {
    private let lock = NSLock()
    private var signal: Int32 = 0
    private let polling: (@Sendable () -> Int32)?
    public init(polling: (@Sendable () -> Int32)? = nil) { self.polling = polling }
    public func request(_ signal: Int32) { lock.lock(); self.signal = signal; lock.unlock() }
    public var requested: Int32? {
        lock.lock(); defer { lock.unlock() }
        let current = signal != 0 ? signal : polling?() ?? 0
        return current == 0 ? nil : current
    }
}

/// Writes via a temporary file in the same folder and a rename, so a reader (or a crash) never
/// sees a half-written file.
public func writeAtomically(_ text: String, to path: String) throws {
    try writeDurably(Data(text.utf8), to: path)
}

public func writeSummary(_ summary: RunSummary, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let data = try encoder.encode(summary)
    try writeAtomically(String(decoding: data, as: UTF8.self) + "\n", to: path)
}

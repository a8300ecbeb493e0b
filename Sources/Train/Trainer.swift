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
    /// Why fewer threads run than were asked for (more than the cores), or nil.
    let threadNote: String?
    var observers: [any TrainingObserver] = []

    let augmentation: Augmentation

    public init(experiment: Experiment, train: Dataset, validation: Dataset, test: Dataset? = nil, threads: Int? = nil) {
        self.experiment = experiment
        self.train = train
        self.validation = validation
        self.test = test
        let augment = experiment.spec.data.augment
        augmentation = Augmentation(crop: augment.crop, flip: augment.flip, cutout: augment.cutout)
        let spec = experiment.spec
        let wanted = threads ?? (spec.train.threads > 0 ? spec.train.threads : WorkerPool.defaultCount())
        (self.threads, threadNote) = WorkerPool.workers(requested: wanted)
        plan = Plan(
            graph: experiment.graph, capacity: min(spec.train.batchSize, max(train.count, 1)), trainable: true,
            seed: UInt64(bitPattern: Int64(spec.seed)), workers: self.threads, precision: experiment.precision)
        optimizer = Optimizer(spec.train.optimizer, plan: plan)
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
    public func evaluate(_ data: Dataset) -> (loss: Double, accuracy: Double) {
        let result = Evaluation(plan, on: data)
        return (result.loss, result.accuracy)
    }

    /// Trains to the end, to early stopping, to a non-finite loss or to a stop request, and
    /// returns the summary. Writes `config.yaml`, `summary.json` and checkpoints under
    /// `directory`; when the directory already holds checkpoints, continues from the newest,
    /// exactly: the same metrics, bit for bit, as a run that never stopped.
    public func run(directory: String, runName: String, stop: StopRequest? = nil) throws -> RunSummary {
        let spec = experiment.spec
        let started = Date()
        let batchSize = plan.capacity
        let stepsPerEpoch = (train.count + batchSize - 1) / batchSize
        let seed = UInt64(bitPattern: Int64(spec.seed))
        try FileManager.default.createDirectory(atPath: Checkpoints.folder(directory), withIntermediateDirectories: true)
        Checkpoints.removeStaleTemporaries(directory)
        try writeAtomically(spec.resolvedYAML(), to: (directory as NSString).appendingPathComponent("config.yaml"))

        let dataFingerprint = train.fingerprint + "-" + validation.fingerprint
        var state = TrainingState()
        state.random = plan.context.random
        var resumedFrom: String?
        if let newest = Checkpoints.list(directory).last {
            state = try Checkpoints.load(
                newest.path, step: newest.step, plan: plan, optimizer: optimizer, spec: spec, dataFingerprint: dataFingerprint,
                stepsPerEpoch: stepsPerEpoch)
            resumedFrom = newest.path
        }
        plan.context.random = state.random

        let summaryPath = (directory as NSString).appendingPathComponent("summary.json")
        var summary = RunSummary(
            experiment: spec.name, run: runName, status: .running, epochs: spec.train.epochs, epochsCompleted: state.history.count,
            seed: spec.seed, threads: plan.context.compute.workers, parameters: experiment.graph.parameterCount, final: state.history.last,
            best: state.best, history: state.history, wallSeconds: 0, error: nil)
        summary.precision = plan.context.compute.precision.rawValue
        summary.cpuLevel = plan.context.compute.level.description
        summary.bestCheckpoint = state.bestCheckpoint
        summary.resumedFrom = resumedFrom.map { ($0 as NSString).lastPathComponent }
        try writeSummary(summary, to: summaryPath)
        var info = RunInfo(
            experiment: spec.name, run: runName, directory: directory, trainExamples: train.count,
            validationExamples: validation.count, parameters: experiment.graph.parameterCount, threads: plan.context.compute.workers,
            precision: plan.context.compute.precision.rawValue, cpuLevel: plan.context.compute.level.description,
            epochs: spec.train.epochs, stepsPerEpoch: stepsPerEpoch, resumedFrom: resumedFrom,
            startEpoch: state.epoch, startStep: state.stepInEpoch, trainer: self)
        info.checkpointCompute = state.checkpointCompute
        let prefetcher = BatchPrefetcher(data: train, capacity: batchSize, augmentation: augmentation, seed: seed)
        defer { prefetcher.drain() }
        let shortfalls = [plan.context.compute.pool.startFailure ?? threadNote, prefetcher.startFailure].compactMap { $0 }
        info.threadShortfall = shortfalls.isEmpty ? nil : shortfalls.joined(separator: "; ")
        observers.forEach { $0.runStarted(info) }

        func saveCheckpoint(isBest: Bool) throws {
            state.random = plan.context.random
            state.optimizerStep = optimizer.step
            let name = Checkpoints.name(step: state.globalStep)
            if isBest { state.bestCheckpoint = name }
            try Checkpoints.save(
                plan: plan, optimizer: optimizer, state: state, spec: spec, dataFingerprint: dataFingerprint,
                input: InputConvention(classNames: train.classNames, normalization: train.normalization),
                to: (Checkpoints.folder(directory) as NSString).appendingPathComponent(name))
            // Keep the newest `keepLast` and the best.
            let all = Checkpoints.list(directory)
            for old in all.dropLast(spec.checkpoint.keepLast) where (old.path as NSString).lastPathComponent != state.bestCheckpoint {
                try? FileManager.default.removeItem(atPath: old.path)
            }
            summary.precision = plan.context.compute.precision.rawValue
            summary.cpuLevel = plan.context.compute.level.description
            summary.bestCheckpoint = state.bestCheckpoint
        }

        let labelSmoothing = Float(spec.loss.labelSmoothing)
        let baseRate = spec.train.optimizer.learningRate
        training: while state.epoch < spec.train.epochs {
            let epoch = state.epoch
            let epochStart = Date()
            let order = epochOrder(count: train.count, seed: seed, epoch: epoch, shuffle: spec.data.shuffle)
            func prefetch(_ step: Int) {
                let start = step * batchSize
                prefetcher.request(slot: step % 2, order: order, start: start, count: min(batchSize, train.count - start), epoch: epoch)
            }
            if state.stepInEpoch < stepsPerEpoch { prefetch(state.stepInEpoch) }
            var learningRate = baseRate
            while state.stepInEpoch < stepsPerEpoch {
                if let stop, let signal = stop.requested {
                    do { try saveCheckpoint(isBest: false) } catch {
                        summary.status = .failed
                        summary.error =
                            "stopped by a signal, but the checkpoint could not be written: \(error.localizedDescription); the previous checkpoint is intact"
                        break training
                    }
                    summary.status = .interrupted
                    summary.error =
                        "stopped by \(signal == SIGTERM ? "SIGTERM" : "SIGINT") at step \(state.globalStep); the next run continues from "
                        + "\(Checkpoints.name(step: state.globalStep))"
                    break training
                }
                let step = state.stepInEpoch
                // This step's batch was prepared while the previous one trained; start the next.
                let count = prefetcher.take(slot: step % 2, images: plan.input, labels: plan.labels)
                if step + 1 < stepsPerEpoch { prefetch(step + 1) }
                learningRate = spec.train.schedule.learningRate(
                    base: baseRate, epoch: Double(epoch) + Double(step) / Double(stepsPerEpoch),
                    totalEpochs: spec.train.epochs)
                let result = plan.trainStep(batch: count, labelSmoothing: labelSmoothing)
                guard result.lossSum.isFinite else {
                    summary.status = .failed
                    summary.error =
                        "the loss became \(result.lossSum) at step \(state.globalStep + 1) (epoch \(epoch + 1))"
                        + divergenceDiagnosis(batch: count) + "; the learning rate \(learningRate) may be too high. The last good checkpoint is kept"
                    break training
                }
                optimizer.update(plan, learningRate: learningRate)
                state.globalStep += 1
                state.stepInEpoch += 1
                state.lossSum += result.lossSum; state.correct += result.correct; state.seen += count
                let metrics = StepMetrics(
                    globalStep: state.globalStep, epoch: epoch + 1, epochs: spec.train.epochs, stepInEpoch: state.stepInEpoch,
                    stepsPerEpoch: stepsPerEpoch, batchLoss: result.lossSum / Double(count),
                    batchAccuracy: Double(result.correct) / Double(count), learningRate: learningRate,
                    batchSize: count, timestamp: monotonicSeconds())
                for observer in observers { observer.stepFinished(metrics) }
            }
            let trainSeconds = Date().timeIntervalSince(epochStart)
            let (validationLoss, validationAccuracy) = evaluate(validation)
            var metrics = EpochMetrics(
                epoch: epoch + 1, trainLoss: state.lossSum / Double(state.seen), trainAccuracy: Double(state.correct) / Double(state.seen),
                validationLoss: validationLoss, validationAccuracy: validationAccuracy, learningRate: learningRate,
                imagesPerSecond: Double(state.seen) / max(trainSeconds, 1e-9),
                seconds: Date().timeIntervalSince(epochStart))
            state.history.append(metrics)
            state.epoch += 1
            state.stepInEpoch = 0
            state.lossSum = 0; state.correct = 0; state.seen = 0
            // Best by the checkpoint's metric (validation accuracy unless the spec says otherwise).
            let bestMetric = spec.checkpoint.keepBest ?? .validationAccuracy
            let improved = state.best.map { isBetter(metrics.value(bestMetric), than: $0.value(bestMetric), metric: bestMetric) } ?? true
            if improved { state.best = metrics }
            var stopEarly = false
            if let rule = spec.earlyStopping {
                let value = metrics.value(rule.metric)
                let better = state.earlyStoppingBest.map { rule.mode == .max ? value > $0 + rule.minDelta : value < $0 - rule.minDelta } ?? true
                if better { state.earlyStoppingBest = value; state.earlyStoppingWait = 0 } else { state.earlyStoppingWait += 1 }
                stopEarly = state.earlyStoppingWait >= rule.patience
            }
            let last = state.epoch == spec.train.epochs || stopEarly
            if let test, spec.data.test == .everyEpoch || (spec.data.test == .final && last) {
                (metrics.testLoss, metrics.testAccuracy) = evaluate(test)
                state.history[state.history.count - 1] = metrics
                if improved { state.best = metrics }
            }
            // Observers (console, event files) hear of the epoch before its checkpoint is written:
            // a kill in between then repeats the epoch's points on resume, rather than losing them.
            observers.forEach { $0.epochFinished(metrics) }
            if last || state.epoch % spec.checkpoint.everyEpochs == 0 || (improved && spec.checkpoint.keepBest != nil) {
                do { try saveCheckpoint(isBest: improved && spec.checkpoint.keepBest != nil) } catch {
                    summary.status = .failed
                    let when =
                        (error as? FileError)?.isOutOfSpace == true
                        ? "once there is room" : "once runner can write to its checkpoints folder (check its permissions)"
                    summary.error =
                        "the checkpoint after epoch \(epoch + 1) could not be written: \(error.localizedDescription); the previous checkpoint is "
                        + "intact and the run resumes from it \(when)"
                    summary.history = state.history
                    break training
                }
            }
            summary.history = state.history
            summary.epochsCompleted = state.epoch
            summary.final = metrics
            summary.best = state.best
            summary.wallSeconds += Date().timeIntervalSince(epochStart)
            try writeSummary(summary, to: summaryPath)
            if stopEarly {
                summary.stoppedEarly = true
                break
            }
        }
        if summary.status == .running { summary.status = .completed }
        summary.wallSeconds = max(summary.wallSeconds, Date().timeIntervalSince(started))
        if summary.status == .failed {
            try? writeSummary(summary, to: summaryPath)  // the disk may be the reason it failed
        } else {
            try writeSummary(summary, to: summaryPath)
        }
        observers.forEach { $0.runFinished(summary) }
        return summary
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

    public init(_ plan: Plan, on data: Dataset) {
        let classes = plan.graph.outputShape.count
        count = data.count
        confusion = [[Int]](repeating: [Int](repeating: 0, count: classes), count: classes)
        let order = Array(0 ..< data.count)
        var start = 0
        while start < data.count {
            let batch = min(plan.capacity, data.count - start)
            data.fill(order: order, start: start, count: batch, images: plan.input, labels: plan.labels)
            plan.forward(batch: batch, training: false)
            let result = plan.loss(batch: batch, gradient: false)
            lossSum += result.lossSum
            correct += result.correct
            for n in 0 ..< batch { confusion[Int(plan.labels[n])][argmax(plan.logits.baseAddress! + n * classes, count: classes)] += 1 }
            start += batch
        }
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

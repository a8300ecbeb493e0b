import Data
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
    public let plan: Plan
    public let optimizer: Optimizer
    public let threads: Int
    var observers: [any TrainingObserver] = []

    public init(experiment: Experiment, train: Dataset, validation: Dataset, threads: Int? = nil) {
        self.experiment = experiment
        self.train = train
        self.validation = validation
        let spec = experiment.spec
        let wanted = threads ?? (spec.train.threads > 0 ? spec.train.threads : ProcessInfo.processInfo.activeProcessorCount)
        self.threads = max(1, wanted)
        BLAS.setThreads(self.threads)
        plan = Plan(graph: experiment.graph, capacity: min(spec.train.batchSize, max(train.count, 1)), trainable: true,
                    seed: UInt64(bitPattern: Int64(spec.seed)))
        optimizer = Optimizer(spec.train.optimizer, plan: plan)
    }

    public func add(_ observer: any TrainingObserver) { observers.append(observer) }

    /// Loss and accuracy over a whole dataset, in inference mode.
    public func evaluate(_ data: Dataset) -> (loss: Double, accuracy: Double) {
        var lossSum = 0.0, correct = 0
        let order = Array(0 ..< data.count)
        var start = 0
        while start < data.count {
            let count = min(plan.capacity, data.count - start)
            data.fill(order: order, start: start, count: count, images: plan.input, labels: plan.labels)
            plan.forward(batch: count, training: false)
            let result = plan.loss(batch: count, gradient: false)
            lossSum += result.lossSum
            correct += result.correct
            start += count
        }
        return (lossSum / Double(max(data.count, 1)), Double(correct) / Double(max(data.count, 1)))
    }

    /// Trains to the end (or to the first non-finite loss) and returns the summary. Writes
    /// `config.yaml` and `summary.json` under `directory` (created when absent).
    public func run(directory: String, runName: String) throws -> RunSummary {
        let spec = experiment.spec
        let started = Date()
        let batchSize = plan.capacity
        let stepsPerEpoch = (train.count + batchSize - 1) / batchSize
        let seed = UInt64(bitPattern: Int64(spec.seed))
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try writeAtomically(spec.resolvedYAML(), to: (directory as NSString).appendingPathComponent("config.yaml"))
        var summary = RunSummary(experiment: spec.name, run: runName, status: .running, epochs: spec.train.epochs, epochsCompleted: 0,
                                 seed: spec.seed, threads: threads, parameters: experiment.graph.parameterCount, final: nil, best: nil,
                                 history: [], wallSeconds: 0, error: nil)
        let summaryPath = (directory as NSString).appendingPathComponent("summary.json")
        try writeSummary(summary, to: summaryPath)
        let info = RunInfo(experiment: spec.name, run: runName, directory: directory, trainExamples: train.count,
                           validationExamples: validation.count, parameters: experiment.graph.parameterCount, threads: threads,
                           epochs: spec.train.epochs, stepsPerEpoch: stepsPerEpoch)
        observers.forEach { $0.runStarted(info) }

        let labelSmoothing = Float(spec.loss.labelSmoothing)
        let baseRate = spec.train.optimizer.learningRate
        var globalStep = 0
        training: for epoch in 0 ..< spec.train.epochs {
            let epochStart = Date()
            let order = epochOrder(count: train.count, seed: seed, epoch: epoch, shuffle: true)
            var lossSum = 0.0, correct = 0, seen = 0
            var reportStart = Date(), reportImages = 0
            var learningRate = baseRate
            for step in 0 ..< stepsPerEpoch {
                let start = step * batchSize
                let count = min(batchSize, train.count - start)
                train.fill(order: order, start: start, count: count, images: plan.input, labels: plan.labels)
                learningRate = spec.train.schedule.learningRate(base: baseRate, epoch: Double(epoch) + Double(step) / Double(stepsPerEpoch),
                                                                totalEpochs: spec.train.epochs)
                let result = plan.trainStep(batch: count, labelSmoothing: labelSmoothing)
                globalStep += 1
                guard result.lossSum.isFinite else {
                    summary.status = .failed
                    summary.error = "the loss became \(result.lossSum) at step \(globalStep) (epoch \(epoch + 1)); the learning rate \(learningRate) may be too high"
                    break training
                }
                optimizer.update(plan, learningRate: learningRate)
                lossSum += result.lossSum; correct += result.correct; seen += count; reportImages += count
                if globalStep % spec.train.logEverySteps == 0 || step == stepsPerEpoch - 1 {
                    let now = Date()
                    let metrics = StepMetrics(globalStep: globalStep, epoch: epoch + 1, epochs: spec.train.epochs, stepInEpoch: step + 1,
                                              stepsPerEpoch: stepsPerEpoch, batchLoss: result.lossSum / Double(count),
                                              batchAccuracy: Double(result.correct) / Double(count), learningRate: learningRate,
                                              imagesPerSecond: Double(reportImages) / max(now.timeIntervalSince(reportStart), 1e-9))
                    observers.forEach { $0.stepFinished(metrics) }
                    reportStart = now; reportImages = 0
                }
            }
            let trainSeconds = Date().timeIntervalSince(epochStart)
            let (validationLoss, validationAccuracy) = evaluate(validation)
            let metrics = EpochMetrics(epoch: epoch + 1, trainLoss: lossSum / Double(seen), trainAccuracy: Double(correct) / Double(seen),
                                       validationLoss: validationLoss, validationAccuracy: validationAccuracy, learningRate: learningRate,
                                       imagesPerSecond: Double(seen) / max(trainSeconds, 1e-9),
                                       seconds: Date().timeIntervalSince(epochStart))
            summary.history.append(metrics)
            summary.epochsCompleted = epoch + 1
            summary.final = metrics
            if summary.best.map({ metrics.validationAccuracy > $0.validationAccuracy }) ?? true { summary.best = metrics }
            summary.wallSeconds = Date().timeIntervalSince(started)
            try writeSummary(summary, to: summaryPath)
            observers.forEach { $0.epochFinished(metrics) }
        }
        if summary.status == .running { summary.status = .completed }
        summary.wallSeconds = Date().timeIntervalSince(started)
        try writeSummary(summary, to: summaryPath)
        observers.forEach { $0.runFinished(summary) }
        return summary
    }
}

/// Writes via a temporary file in the same folder and a rename, so a reader (or a crash) never
/// sees a half-written file.
public func writeAtomically(_ text: String, to path: String) throws {
    let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
    try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
    if rename(temporary, path) != 0 {
        let code = errno
        unlink(temporary)
        throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path, NSLocalizedDescriptionKey: String(cString: strerror(code))])
    }
}

public func writeSummary(_ summary: RunSummary, to path: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
    let data = try encoder.encode(summary)
    try writeAtomically(String(decoding: data, as: UTF8.self) + "\n", to: path)
}

import Datasets
import Files
import Foundation
import Kernels
import Plan
import Spec
import Tensor

/// One call of `Trainer.run`, in named steps: `init` prepares the run folder and resumes from its
/// newest checkpoint, `announce` tells the observers, `trainEpoch` runs an epoch's steps,
/// `finishEpoch` evaluates, keeps the best, stops early, reports and writes the checkpoint, and
/// `finish` writes the final summary. A step that ends the run sets `summary.status` (and
/// `summary.error`) and returns nil or false.
final class TrainingRun {
    let trainer: Trainer
    let spec: ExperimentSpec
    let plan: Plan
    let directory: String
    let stop: StopRequest?
    let started = Date()
    let batchSize: Int, stepsPerEpoch: Int, seed: UInt64
    /// The ranks training together; rank 0 alone writes the run's files.
    let collective: any Collective
    /// The training and validation data's identity, recorded in checkpoints: a resume on other
    /// data is refused.
    let dataFingerprint: String
    let summaryPath: String
    let prefetcher: BatchPrefetcher
    var state = TrainingState()
    var summary: RunSummary
    let resumedFrom: String?

    /// Creates the run folder's files (config.yaml, checkpoints/, summary.json as running) and
    /// restores the newest checkpoint's state, if there is one.
    init(_ trainer: Trainer, directory: String, runName: String, stop: StopRequest?) throws {
        self.trainer = trainer
        spec = trainer.experiment.spec
        plan = trainer.plan
        self.directory = directory
        self.stop = stop
        collective = trainer.collective
        batchSize = trainer.globalBatch
        stepsPerEpoch = (trainer.train.count + batchSize - 1) / batchSize
        seed = UInt64(bitPattern: Int64(spec.seed))
        if collective.isRoot {
            try FileManager.default.createDirectory(atPath: Checkpoints.folder(directory), withIntermediateDirectories: true)
            Checkpoints.removeStaleTemporaries(directory)
            try writeAtomically(spec.resolvedYAML(), to: (directory as NSString).appendingPathComponent("config.yaml"))
        }

        dataFingerprint = trainer.train.fingerprint + "-" + trainer.validation.fingerprint
        state.random = plan.context.random
        if let newest = Checkpoints.list(directory).last {
            state = try Checkpoints.load(
                newest.path, step: newest.step, plan: plan, optimizer: trainer.optimizer, spec: spec, dataFingerprint: dataFingerprint,
                stepsPerEpoch: stepsPerEpoch, batchSize: batchSize)
            resumedFrom = newest.path
        } else {
            resumedFrom = nil
        }
        plan.context.random = state.random

        summaryPath = (directory as NSString).appendingPathComponent("summary.json")
        summary = RunSummary(
            experiment: spec.name, run: runName, status: .running, epochs: spec.train.epochs, epochsCompleted: state.history.count,
            seed: spec.seed, threads: plan.context.compute.workers, parameters: trainer.experiment.graph.parameterCount, final: state.history.last,
            best: state.best, history: state.history, wallSeconds: 0, error: nil)
        summary.precision = plan.context.compute.precision.rawValue
        summary.cpuLevel = plan.context.compute.level.description
        summary.bestCheckpoint = state.bestCheckpoint
        summary.resumedFrom = resumedFrom.map { ($0 as NSString).lastPathComponent }
        if collective.size > 1 { summary.ranks = collective.size }
        if collective.isRoot { try writeSummary(summary, to: summaryPath) }
        prefetcher = BatchPrefetcher(data: trainer.train, capacity: plan.capacity, augmentation: trainer.augmentation, seed: seed)
    }

    /// Tells the observers what is about to run (and from where, and on how many threads).
    func announce() {
        var info = RunInfo(
            experiment: spec.name, run: summary.run, directory: directory, trainExamples: trainer.train.count,
            validationExamples: trainer.validation.count, parameters: trainer.experiment.graph.parameterCount,
            threads: plan.context.compute.workers, precision: plan.context.compute.precision.rawValue,
            cpuLevel: plan.context.compute.level.description, epochs: spec.train.epochs, stepsPerEpoch: stepsPerEpoch,
            resumedFrom: resumedFrom, startEpoch: state.epoch, startStep: state.stepInEpoch, trainer: trainer)
        info.checkpointCompute = state.checkpointCompute
        info.ranks = collective.size
        let shortfalls = [plan.context.compute.pool.startFailure ?? trainer.threadNote, prefetcher.startFailure].compactMap { $0 }
        info.threadShortfall = shortfalls.isEmpty ? nil : shortfalls.joined(separator: "; ")
        trainer.observers.forEach { $0.runStarted(info) }
    }

    /// The rest of the current epoch's steps, each batch prepared while the previous one trains.
    /// Returns the last step's learning rate, or nil when the run ends here: a stop request
    /// (after a checkpoint) or a non-finite loss.
    func trainEpoch() -> Double? {
        let epoch = state.epoch, train = trainer.train
        let order = epochOrder(count: train.count, seed: seed, epoch: epoch, shuffle: spec.data.shuffle)
        // This rank's share of each batch (all of it on one rank): the examples, and so their
        // augmentation and dropout draws (keyed by position in the epoch), are one rank's.
        func prefetch(_ step: Int) {
            let start = step * batchSize, mine = collective.share(of: min(batchSize, train.count - start))
            prefetcher.request(slot: step % 2, order: order, start: start + mine.lowerBound, count: mine.count, epoch: epoch)
        }
        if state.stepInEpoch < stepsPerEpoch { prefetch(state.stepInEpoch) }
        let labelSmoothing = Float(spec.loss.labelSmoothing)
        let baseRate = spec.train.optimizer.learningRate
        var learningRate = baseRate
        while state.stepInEpoch < stepsPerEpoch {
            // Every rank stops at the same step, once any of them has received a signal.
            let requested = stop?.requested ?? 0
            let signal = collective.size > 1 ? collective.maximum(requested) : requested
            if signal != 0 {
                var failure: (any Error)?
                do { try saveCheckpoint(isBest: false) } catch { failure = error }
                if collective.any(failure != nil) {
                    let reason = failure?.localizedDescription ?? "rank 0 could not write it"
                    summary.status = .failed
                    summary.error =
                        "stopped by a signal, but the checkpoint could not be written: \(reason); the previous checkpoint is intact"
                    return nil
                }
                summary.status = .interrupted
                summary.error =
                    "stopped by \(signal == SIGTERM ? "SIGTERM" : "SIGINT") at step \(state.globalStep); the next run continues from "
                    + "\(Checkpoints.name(step: state.globalStep))"
                return nil
            }
            let step = state.stepInEpoch
            // This step's batch was prepared while the previous one trained; start the next.
            let count = prefetcher.take(slot: step % 2, images: plan.input, labels: plan.labels)
            let batchCount = min(batchSize, train.count - step * batchSize)
            if step + 1 < stepsPerEpoch { prefetch(step + 1) }
            learningRate = spec.train.schedule.learningRate(
                base: baseRate, epoch: Double(epoch) + Double(step) / Double(stepsPerEpoch),
                totalEpochs: spec.train.epochs)
            let result = trainStep(count: count, of: batchCount, labelSmoothing: labelSmoothing)
            guard result.lossSum.isFinite else {
                summary.status = .failed
                summary.error =
                    "the loss became \(result.lossSum) at step \(state.globalStep + 1) (epoch \(epoch + 1))"
                    + trainer.divergenceDiagnosis(batch: count) + "; the learning rate \(learningRate) may be too high. The last good checkpoint is kept"
                return nil
            }
            trainer.optimizer.update(plan, learningRate: learningRate, epoch: epoch)
            state.globalStep += 1
            state.stepInEpoch += 1
            state.lossSum += result.lossSum; state.correct += result.correct; state.seen += batchCount
            let metrics = StepMetrics(
                globalStep: state.globalStep, epoch: epoch + 1, epochs: spec.train.epochs, stepInEpoch: state.stepInEpoch,
                stepsPerEpoch: stepsPerEpoch, batchLoss: result.lossSum / Double(batchCount),
                batchAccuracy: Double(result.correct) / Double(batchCount), learningRate: learningRate,
                batchSize: batchCount, timestamp: monotonicSeconds())
            for observer in trainer.observers { observer.stepFinished(metrics) }
        }
        return learningRate
    }

    /// One step's forward, loss and backward on this rank's `count` of the batch's `total`
    /// examples; with several ranks, the gradient and the loss sums are then the whole batch's.
    /// Each rank's gradient is of its own mean loss (1/count); the batch's mean loss has
    /// gradient Σ_r (count_r / total) · g_r, so each rank scales by count/total before the sum.
    func trainStep(count: Int, of total: Int, labelSmoothing: Float) -> LossResult {
        guard collective.size > 1 else { return plan.trainStep(batch: count, labelSmoothing: labelSmoothing) }
        var result = LossResult(lossSum: 0, correct: 0)
        if count > 0 {
            plan.context.firstExample = collective.share(of: total).lowerBound
            defer { plan.context.firstExample = 0 }
            result = plan.trainStep(batch: count, labelSmoothing: labelSmoothing)
            scale(plan.gradients.baseAddress!, by: Float(count) / Float(total), count: plan.gradients.count, plan.gradients.baseAddress!)
        } else {
            plan.gradients.fill(0)  // a batch smaller than the ranks: this one has no example
        }
        if let gradients = plan.gradients.baseAddress { collective.sum(gradients, count: plan.gradients.count) }
        var sums = [result.lossSum, Double(result.correct)]
        collective.sum(&sums)
        return LossResult(lossSum: sums[0], correct: Int(sums[1]))
    }

    /// After an epoch's steps: validation, the best epoch, early stopping, the test split when
    /// the spec asks, the observers, the checkpoint and summary.json. Returns whether training
    /// goes on (false: stopped early, or the checkpoint could not be written).
    func finishEpoch(started epochStart: Date, learningRate: Double) throws -> Bool {
        let epoch = state.epoch
        let trainSeconds = Date().timeIntervalSince(epochStart)
        // Every rank evaluates, checkpoints and decides with rank 0's weights and batchnorm
        // running statistics (each rank's running statistics saw only its share of the batches;
        // rank 0's are kept, as PyTorch DDP's buffer broadcast does). The sums of identical
        // gradients keep the weights equal anyway; the copy makes it certain.
        collective.broadcast(plan.parameters)
        collective.broadcast(plan.state)
        let (validationLoss, validationAccuracy) = trainer.evaluate(trainer.validation)
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
        let stopEarly = earlyStoppingSaysStop(metrics)
        let last = state.epoch == spec.train.epochs || stopEarly
        if let test = trainer.test, spec.data.test == .everyEpoch || (spec.data.test == .final && last) {
            (metrics.testLoss, metrics.testAccuracy) = trainer.evaluate(test, tta: spec.data.tta)
            state.history[state.history.count - 1] = metrics
            if improved { state.best = metrics }
        }
        // Observers (console, event files) hear of the epoch before its checkpoint is written:
        // a kill in between then repeats the epoch's points on resume, rather than losing them.
        trainer.observers.forEach { $0.epochFinished(metrics) }
        if last || state.epoch % spec.checkpoint.everyEpochs == 0 || (improved && spec.checkpoint.keepBest != nil) {
            var failure: (any Error)?
            do { try saveCheckpoint(isBest: improved && spec.checkpoint.keepBest != nil) } catch { failure = error }
            if collective.any(failure != nil) {
                let error = failure ?? FileError(directory, "rank 0 could not write it", hint: "see rank 0's message")
                summary.status = .failed
                let when =
                    (error as? FileError)?.isOutOfSpace == true
                    ? "once there is room" : "once runner can write to its checkpoints folder (check its permissions)"
                summary.error =
                    "the checkpoint after epoch \(epoch + 1) could not be written: \(error.localizedDescription); the previous checkpoint is "
                    + "intact and the run resumes from it \(when)"
                summary.history = state.history
                return false
            }
        }
        summary.history = state.history
        summary.epochsCompleted = state.epoch
        summary.final = metrics
        summary.best = state.best
        summary.wallSeconds += Date().timeIntervalSince(epochStart)
        if collective.isRoot { try writeSummary(summary, to: summaryPath) }
        if stopEarly { summary.stoppedEarly = true }
        return !stopEarly
    }

    /// Counts epochs without improvement of the early-stopping metric (by more than min_delta);
    /// true once there have been `patience` of them.
    func earlyStoppingSaysStop(_ metrics: EpochMetrics) -> Bool {
        guard let rule = spec.earlyStopping else { return false }
        let value = metrics.value(rule.metric)
        let better = state.earlyStoppingBest.map { rule.mode == .max ? value > $0 + rule.minDelta : value < $0 - rule.minDelta } ?? true
        if better { state.earlyStoppingBest = value; state.earlyStoppingWait = 0 } else { state.earlyStoppingWait += 1 }
        return state.earlyStoppingWait >= rule.patience
    }

    /// Writes a checkpoint of the current step, then keeps the newest `keep_last` and the best.
    func saveCheckpoint(isBest: Bool) throws {
        state.random = plan.context.random
        state.optimizerStep = trainer.optimizer.step
        let name = Checkpoints.name(step: state.globalStep)
        if isBest { state.bestCheckpoint = name }
        summary.bestCheckpoint = state.bestCheckpoint
        guard collective.isRoot else { return }
        try Checkpoints.save(
            plan: plan, optimizer: trainer.optimizer, state: state, spec: spec, dataFingerprint: dataFingerprint,
            input: InputConvention(classNames: trainer.train.classNames, normalization: trainer.train.normalization),
            to: (Checkpoints.folder(directory) as NSString).appendingPathComponent(name))
        let all = Checkpoints.list(directory)
        for old in all.dropLast(spec.checkpoint.keepLast) where (old.path as NSString).lastPathComponent != state.bestCheckpoint {
            try? FileManager.default.removeItem(atPath: old.path)
        }
        summary.precision = plan.context.compute.precision.rawValue
        summary.cpuLevel = plan.context.compute.level.description
        summary.bestCheckpoint = state.bestCheckpoint
    }

    /// The final summary.json (completed unless a step ended the run otherwise), and the
    /// observers' last word.
    func finish() throws -> RunSummary {
        if summary.status == .running { summary.status = .completed }
        summary.wallSeconds = max(summary.wallSeconds, Date().timeIntervalSince(started))
        if !collective.isRoot {
        } else if summary.status == .failed {
            try? writeSummary(summary, to: summaryPath)  // the disk may be the reason it failed
        } else {
            try writeSummary(summary, to: summaryPath)
        }
        collective.barrier()  // no rank leaves (and ends the job) while rank 0 still writes
        trainer.observers.forEach { $0.runFinished(summary) }
        return summary
    }
}

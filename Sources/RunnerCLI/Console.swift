import Foundation
import Plan
import Tensor
import Train

/// Prints a run's progress the way the seed tutorial did: global step, a progress bar,
/// percentage, batch accuracy, loss and samples per second, then the time spent and left (as
/// tqdm and Keras do). On a terminal the line updates in place; otherwise (a log file, CI)
/// each report is its own line.
final class Console: TrainingObserver {
    let live: Bool
    let every: Int
    var lastLineWasLive = false
    var intervalStart = monotonicSeconds(), intervalImages = 0
    var clock = RemainingTime()

    init(every: Int, live: Bool = isatty(STDOUT_FILENO) != 0) { self.every = every; self.live = live }

    func runStarted(_ run: RunInfo) {
        intervalStart = monotonicSeconds()
        clock = RemainingTime(started: intervalStart)
        if let checkpoint = run.resumedFrom {
            emit(
                "Resuming \(run.experiment)/\(run.run) from \((checkpoint as NSString).lastPathComponent): epoch \(run.startEpoch + 1), step "
                    + "\(run.startStep) of \(run.stepsPerEpoch)"
            )
            // fp32 at avx2 and at avx512 compute bit-identically; another precision, or the portable
            // kernels (no FMA where the target lacks it), do not.
            if let before = run.checkpointCompute,
                before.precision != run.precision || (before.level == "portable") != (run.cpuLevel == "portable")
            {
                emit(
                    "note: the checkpoint was computed in \(before.precision) at \(before.level), this machine continues in "
                        + "\(run.precision) at \(run.cpuLevel): the run goes on, but its results will differ in the last bits from an uninterrupted run")
            }
        }
        if let shortfall = run.threadShortfall { printError("warning: \(shortfall)") }
        emit(
            "Training \(run.experiment)/\(run.run): \(run.trainExamples) training and \(run.validationExamples) validation examples, "
                + "\(grouped(run.parameters)) parameters, \(run.epochs) epochs of \(run.stepsPerEpoch) steps, \(workers(run)), \(run.precision) "
                + "(CPU level \(run.cpuLevel)) → \(run.directory)"
        )
    }

    /// "2 threads", or with MPI "2 MPI ranks × 1 threads (…)".
    func workers(_ run: RunInfo) -> String {
        let threads = "\(run.threads) threads"
        return run.ranks == 1 ? threads : "\(run.ranks) MPI ranks × \(threads) (each a contiguous share of every batch; batchnorm statistics per rank)"
    }

    func stepFinished(_ m: StepMetrics) {
        clock.step(m)
        intervalImages += m.batchSize
        guard m.globalStep % every == 0 || m.stepInEpoch == m.stepsPerEpoch else { return }
        let imagesPerSecond = Double(intervalImages) / max(m.timestamp - intervalStart, 1e-9)
        intervalStart = m.timestamp
        intervalImages = 0
        let fraction = Double(m.stepInEpoch) / Double(m.stepsPerEpoch)
        let width = 30, filled = Int(fraction * Double(width))
        let bar = String(repeating: "=", count: max(filled - 1, 0)) + (filled > 0 ? ">" : "") + String(repeating: "-", count: width - filled)
        let line =
            String(
                format: "Global step: %d - [%@] %3.0f%% - acc: %.4f - loss: %.4f - %.1f sample/sec",
                m.globalStep, bar, fraction * 100, m.batchAccuracy, m.batchLoss, imagesPerSecond) + clock.progress(m)
        if live {
            print("\r" + line, terminator: "")
            fflush(nil)
            lastLineWasLive = true
        } else {
            emit(line)
        }
    }

    func epochFinished(_ m: EpochMetrics) {
        endLiveLine()
        let left = clock.epochFinished(m)
        emit(
            String(
                format: "Epoch %d - loss %.4f - acc %.2f%% - val_loss %.4f - val_acc %.2f%% - lr %.3g - %.0f img/s - %.1f s",
                m.epoch, m.trainLoss, m.trainAccuracy * 100, m.validationLoss, m.validationAccuracy * 100, m.learningRate,
                m.imagesPerSecond, m.seconds)
                + (m.testAccuracy.map { String(format: " - test_acc %.2f%%", $0 * 100) } ?? "")
                + (left.map { " - run \(clock.elapsedText) (\(formatDuration($0)) left)" } ?? ""))
    }

    func runFinished(_ summary: RunSummary) {
        endLiveLine()
        switch summary.status {
        case .completed:
            let best = summary.best.map { String(format: "best val_acc %.2f%% (epoch %d)", $0.validationAccuracy * 100, $0.epoch) } ?? ""
            let final = summary.final.map { String(format: "final val_acc %.2f%% val_loss %.4f", $0.validationAccuracy * 100, $0.validationLoss) } ?? ""
            emit(
                String(
                    format: "Done %@/%@: %@, %@, %d epochs in %.1f s", summary.experiment, summary.run, final, best, summary.epochsCompleted,
                    summary.wallSeconds))
        default:
            emit("\(summary.experiment)/\(summary.run) \(summary.status.rawValue): \(summary.error ?? "")")
        }
    }

    func endLiveLine() {
        if lastLineWasLive { emit(""); lastLineWasLive = false }
    }

    /// Prints a line and flushes it: stdout into a file or a pipe is block-buffered, and a
    /// `runner … > log` or `| tee` should show each line when it happens, not 4 KiB later.
    func emit(_ line: String) {
        print(line)
        fflush(nil)  // every output stream; stdout itself is not concurrency-safe to name
    }
}

/// The time a run has spent and has left, from its own measured rate: seconds per training step
/// (this invocation's steps, so a resumed run measures itself) and seconds of evaluation per
/// epoch. An estimate: early stopping can only make the run shorter.
struct RemainingTime {
    var started = monotonicSeconds()
    var stepSeconds = 0.0, steps = 0
    var evaluationSeconds = 0.0, evaluations = 0
    /// When the previous step (or the previous epoch's evaluation) ended.
    var last: Double?
    var epochStarted: Double?
    /// The run's shape, as its steps report it.
    var stepsPerEpoch: Int?, epochs: Int?

    init(started: Double = monotonicSeconds()) { self.started = started }

    var elapsedText: String { formatDuration(monotonicSeconds() - started) }

    mutating func step(_ m: StepMetrics) {
        if let last { stepSeconds += m.timestamp - last; steps += 1 }
        if m.stepInEpoch == 1 || epochStarted == nil { epochStarted = last ?? m.timestamp }
        last = m.timestamp
        stepsPerEpoch = m.stepsPerEpoch
        epochs = m.epochs
    }

    /// Seconds left in the epoch and in the run after `m`, once a step has been timed.
    func left(_ m: StepMetrics) -> (epoch: Double, run: Double)? {
        guard steps > 0 else { return nil }
        let perStep = stepSeconds / Double(steps), evaluation = evaluations > 0 ? evaluationSeconds / Double(evaluations) : 0
        let epoch = Double(m.stepsPerEpoch - m.stepInEpoch) * perStep
        return (epoch, epoch + evaluation + Double(m.epochs - m.epoch) * (Double(m.stepsPerEpoch) * perStep + evaluation))
    }

    /// " - epoch 0:42 (0:10 left) - run 12:02 (1:02:30 left)": time spent and left in the epoch
    /// and in the run (nothing before a step is timed).
    func progress(_ m: StepMetrics) -> String {
        guard let (epoch, run) = left(m) else { return "" }
        let inEpoch = formatDuration(m.timestamp - (epochStarted ?? m.timestamp))
        return " - epoch \(inEpoch) (\(formatDuration(epoch)) left) - run \(elapsedText) (\(formatDuration(run)) left)"
    }

    /// Times the epoch's evaluation; returns the seconds the run has left after this epoch.
    mutating func epochFinished(_ m: EpochMetrics) -> Double? {
        let now = monotonicSeconds()
        if let last { evaluationSeconds += now - last; evaluations += 1 }
        last = now
        epochStarted = nil
        guard steps > 0, let stepsPerEpoch, let epochs else { return nil }
        let perEpoch = Double(stepsPerEpoch) * stepSeconds / Double(steps) + evaluationSeconds / Double(max(evaluations, 1))
        return Double(epochs - m.epoch) * perEpoch
    }
}

/// 75 → "1:15", 3725 → "1:02:05": minutes and seconds, hours when there are any.
func formatDuration(_ seconds: Double) -> String {
    let total = Int(max(0, seconds.isFinite ? seconds : 0).rounded())
    let hours = total / 3600, minutes = total / 60 % 60, rest = total % 60
    return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
}

/// 3247422 → "3,247,422".
func grouped(_ value: Int) -> String {
    let digits = String(abs(value))
    var result = ""
    for (index, character) in digits.enumerated() {
        if index > 0 && (digits.count - index) % 3 == 0 { result += "," }
        result.append(character)
    }
    return (value < 0 ? "-" : "") + result
}

/// Writes to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

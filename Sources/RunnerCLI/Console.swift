import Foundation
import Plan
import Tensor
import Train

/// Prints a run's progress the way the seed tutorial did: global step, a progress bar,
/// percentage, batch accuracy, loss and samples per second. On a terminal the line updates in
/// place; otherwise (a log file, CI) each report is its own line.
final class Console: TrainingObserver {
    let live: Bool
    let every: Int
    var lastLineWasLive = false
    var intervalStart = monotonicSeconds(), intervalImages = 0

    init(every: Int, live: Bool = isatty(STDOUT_FILENO) != 0) { self.every = every; self.live = live }

    func runStarted(_ run: RunInfo) {
        intervalStart = monotonicSeconds()
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
        intervalImages += m.batchSize
        guard m.globalStep % every == 0 || m.stepInEpoch == m.stepsPerEpoch else { return }
        let imagesPerSecond = Double(intervalImages) / max(m.timestamp - intervalStart, 1e-9)
        intervalStart = m.timestamp
        intervalImages = 0
        let fraction = Double(m.stepInEpoch) / Double(m.stepsPerEpoch)
        let width = 30, filled = Int(fraction * Double(width))
        let bar = String(repeating: "=", count: max(filled - 1, 0)) + (filled > 0 ? ">" : "") + String(repeating: "-", count: width - filled)
        let line = String(
            format: "Global step: %d - [%@] %3.0f%% - acc: %.4f - loss: %.4f - %.1f sample/sec",
            m.globalStep, bar, fraction * 100, m.batchAccuracy, m.batchLoss, imagesPerSecond)
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
        emit(
            String(
                format: "Epoch %d - loss %.4f - acc %.2f%% - val_loss %.4f - val_acc %.2f%% - lr %.3g - %.0f img/s - %.1f s",
                m.epoch, m.trainLoss, m.trainAccuracy * 100, m.validationLoss, m.validationAccuracy * 100, m.learningRate,
                m.imagesPerSecond, m.seconds)
                + (m.testAccuracy.map { String(format: " - test_acc %.2f%%", $0 * 100) } ?? ""))
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

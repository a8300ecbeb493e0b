import ArgumentParser
import Foundation
import Graph
import Kernels
import Plan
import Tensor
import Train

/// `runner bench CONFIG`: training and inference images/s of the spec's model on synthetic
/// data, achieved GFLOP/s, a per-layer time table, this machine's sgemm figure, peak memory.
/// A benchmark, not a test: run it beside ../shared/bench's peers and compare ratios.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Measure training and inference speed on synthetic data.")

    @Argument(help: "Experiment file (YAML).")
    var config: String

    @Option(help: "Batch size (default: the spec's).")
    var batch: Int?

    @Option(help: "Timed steps per repeat.")
    var steps = 20

    @Option(help: "Untimed warm-up steps.")
    var warmup = 3

    @Option(help: "Repeats; the median is reported.")
    var repeats = 5

    @Option(help: "Threads (default: every core).")
    var threads: Int?

    @Option(help: "Precision of the matrix products: auto, fp32 or bf16 (default: the spec's).")
    var precision: String?

    @Flag(help: "Print one JSON line (RESULT {...}) at the end, like ../shared/bench's peers.")
    var json = false

    func run() throws {
        let experiment: Experiment
        do { experiment = try Experiment.load(path: config) } catch {
            printError(error.description)
            throw ExitCode(2)
        }
        let batchSize = batch ?? experiment.spec.train.batchSize
        guard batchSize >= 1, steps >= 1, repeats >= 1, warmup >= 0 else {
            printError("error: --batch, --steps and --repeats must be at least 1\nhint: for example --batch 128 --steps 20 --repeats 5")
            throw ExitCode(2)
        }
        // The same bound a training run's batch_size meets: --batch 100000000 is an error, not an abort in malloc.
        do { try Experiment.checkMemory(experiment.graph, batch: batchSize, optimizer: experiment.spec.train.optimizer) } catch {
            printError(
                "--batch \(batchSize): "
                    + error.description.replacingOccurrences(of: "use fewer filters or units, or a smaller batch_size", with: "use a smaller --batch"))
            throw ExitCode(2)
        }
        let (threadCount, threadNote) = WorkerPool.workers(requested: threads ?? WorkerPool.defaultCount())
        if let threadNote { printError("warning: \(threadNote)") }
        let setting = precision.map { PrecisionSetting(rawValue: $0) } ?? experiment.spec.train.precision
        guard let setting else {
            let settings = PrecisionSetting.allCases.map(\.rawValue).joined(separator: ", ")
            printError("error: --precision must be one of \(settings), got '\(self.precision ?? "")'\nhint: for example --precision auto")
            throw ExitCode(2)
        }
        let precision = Precision.resolve(setting)
        guard precision.isAvailable else {
            printError("error: --precision \(precision.rawValue): \(Experiment.unavailableMessage(precision))\nhint: use --precision auto or --precision fp32")
            throw ExitCode(2)
        }
        let graph = experiment.graph
        print(
            "bench \(experiment.spec.name): batch \(batchSize), \(threadCount) threads, \(precision.rawValue), CPU level \(CPU.level) (detected "
                + "\(CPU.detected)), "
                + "\(warmup) warm-up + \(repeats) × \(steps) steps")

        if let shortfall = WorkerPool(count: threadCount).startFailure { printError("warning: \(shortfall): the figures below are for fewer threads") }
        let ceiling = gemmCeiling(workers: threadCount, precision: precision)
        print(
            String(
                format: "GEMM 1024³ on %d workers, %@ at %@: %.1f GFLOP/s (the ceiling for the GEMM-bound layers; OpenBLAS %@ sgemm on %d threads: %.1f)",
                threadCount, precision.rawValue, CPU.level.description, ceiling, BLAS.coreName, threadCount, sgemmGFLOPS(size: 1024, threads: threadCount)))

        // Training.
        let plan = Plan(graph: graph, capacity: batchSize, trainable: true, seed: 1, workers: threadCount, precision: precision)
        let optimizer = Optimizer(experiment.spec.train.optimizer, plan: plan, groups: experiment.spec.train.groups)
        fillSynthetic(plan, classes: graph.outputShape.count)
        func trainStep() {
            _ = plan.trainStep(batch: batchSize)
            optimizer.update(plan, learningRate: 1e-4)
        }
        for _ in 0 ..< warmup { trainStep() }
        var trainRates: [Double] = []
        for _ in 0 ..< repeats {
            let start = monotonicSeconds()
            for _ in 0 ..< steps { trainStep() }
            trainRates.append(Double(steps * batchSize) / (monotonicSeconds() - start))
        }
        plan.profiling = true
        plan.resetProfile()
        for _ in 0 ..< steps { trainStep() }
        plan.profiling = false

        // Inference.
        let inference = Plan(graph: graph, capacity: batchSize, trainable: false, seed: 1, workers: threadCount, precision: precision)
        fillSynthetic(inference, classes: graph.outputShape.count)
        for _ in 0 ..< warmup { inference.forward(batch: batchSize, training: false) }
        var inferRates: [Double] = []
        for _ in 0 ..< repeats {
            let start = monotonicSeconds()
            for _ in 0 ..< steps { inference.forward(batch: batchSize, training: false) }
            inferRates.append(Double(steps * batchSize) / (monotonicSeconds() - start))
        }

        let train = median(trainRates), infer = median(inferRates)
        // A training image costs its forward FLOPs three times: forward, and the two GEMMs of backward.
        let forwardFLOPs = Double(graph.flopsPerExample)
        print("")
        // GFLOP/s count the direct algorithm's FLOPs (2·MACs forward; twice that backward: the
        // weight and the input gradient), whatever algorithm ran.
        print("layer            kind        forward ms  backward ms   fwd GFLOP/s   bwd GFLOP/s")
        for (index, node) in graph.nodes.enumerated() {
            let forwardMs = plan.forwardSeconds[index] / Double(steps) * 1000
            let backwardMs = plan.backwardSeconds[index] / Double(steps) * 1000
            let rate = node.flops > 0 && forwardMs > 0 ? Double(node.flops * batchSize) / (forwardMs / 1000) / 1e9 : 0
            let backwardRate = node.flops > 0 && backwardMs > 0 ? Double(2 * node.flops * batchSize) / (backwardMs / 1000) / 1e9 : 0
            print(
                String(
                    format: "%@ %@ %11.2f %12.2f %13.1f %13.1f", node.name.padding(toLength: 16, withPad: " ", startingAt: 0),
                    node.kind.padding(toLength: 10, withPad: " ", startingAt: 0), forwardMs, backwardMs, rate, backwardRate))
        }
        let peakMiB = peakResidentMiB()
        print("")
        print(
            String(
                format: "train: %.1f images/s (median of %d; runs %@), %.1f GFLOP/s", train, repeats,
                trainRates.map { String(format: "%.0f", $0) }.joined(separator: " "), train * 3 * forwardFLOPs / 1e9))
        print(
            String(
                format: "infer: %.1f images/s (median of %d; runs %@), %.1f GFLOP/s", infer, repeats,
                inferRates.map { String(format: "%.0f", $0) }.joined(separator: " "), infer * forwardFLOPs / 1e9))
        print(String(format: "peak resident memory: %.0f MiB", peakMiB))
        if json {
            print(
                String(
                    format:
                        #"RESULT {"peer": "runner", "batch": %d, "threads": %d, "train_img_s": %.1f, "infer_img_s": %.1f, "gemm_gflops": %.1f, "#
                        + #""peak_rss_mib": %.0f, "precision": "%@", "cpu_level": "%@"}"#,
                    batchSize, threadCount, train, infer, ceiling, peakMiB, precision.rawValue, CPU.level.description))
        }
    }

    func fillSynthetic(_ plan: Plan, classes: Int) {
        var random = RandomSource(seed: 42)
        for i in plan.input.indices { plan.input[i] = random.uniformFloat() }
        for i in plan.labels.indices { plan.labels[i] = Int32(random.below(classes)) }
    }
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
}

/// GFLOP/s of the plan's own GEMM (its precision, the CPU level's kernels): every worker
/// multiplies its own 1024³ product at the same time, as the layers do; best of 5.
func gemmCeiling(workers: Int, precision: Precision) -> Double {
    let n = 1024
    let engine = ComputeEngine(workers: workers, precision: precision)
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    let c = UnsafeMutablePointer<Float>.allocate(capacity: n * n * engine.workers)
    defer { c.deallocate() }
    var best = Double.infinity
    for _ in 0 ..< 5 {
        let start = monotonicSeconds()
        engine.pool.run { worker in
            engine.gemm(worker: worker, m: n, n: n, k: n, a, lda: n, b, ldb: n, beta: 0, c + worker * n * n, ldc: n)
        }
        best = min(best, monotonicSeconds() - start)
    }
    return 2 * Double(n * n * n * engine.workers) / best / 1e9
}

/// GFLOP/s of a square OpenBLAS sgemm on `threads` threads (best of 5): the reference figure.
func sgemmGFLOPS(size n: Int, threads: Int) -> Double {
    BLAS.setThreads(threads)
    defer { BLAS.setThreads(1) }
    let a = [Float](repeating: 0.5, count: n * n), b = [Float](repeating: 0.25, count: n * n)
    var c = [Float](repeating: 0, count: n * n)
    var best = Double.infinity
    for _ in 0 ..< 5 {
        let start = monotonicSeconds()
        c.withUnsafeMutableBufferPointer { out in
            gemm(m: n, n: n, k: n, a, lda: n, b, ldb: n, beta: 0, out.baseAddress!, ldc: n)
        }
        best = min(best, monotonicSeconds() - start)
    }
    return 2 * Double(n * n * n) / best / 1e9
}

/// The process's peak resident set (VmHWM), in MiB.
func peakResidentMiB() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kilobytes / 1024
    }
    return 0
}

import CKernels
import Foundation
import Kernels
import Testing

/// The float32 GEMM of every CPU level this machine can run, against a float64 triple loop;
/// the level names and RUNNER_CPU's rules; `auto` precision.
@Suite("CPU levels and the float32 GEMM of each")
struct DispatchTests {
    static let shapes = [(1, 1, 1), (5, 7, 3), (13, 33, 17), (29, 70, 801), (3, 1100, 40), (200, 45, 3), (170, 64, 300)]

    @Test(
        "fp32 GEMM equals the float64 triple loop at every supported level: transposes, edges, k blocks, strides, beta",
        arguments: CPU.supportedLevels, shapes.indices)
    func sgemm(level: CPULevel, shape: Int) {
        let (m, n, k) = Self.shapes[shape]
        let workspace = UnsafeMutableRawPointer.allocate(byteCount: runner_sgemm_workspace_bytes(), alignment: 64)
        defer { workspace.deallocate() }
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for beta in [Float(0), 1, 0.5] {
                // Leading dimensions wider than needed: the kernel must honour them.
                let lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 2, ldc = n + 3
                let a = randomArray((ta ? k : m) * lda, seed: 31), b = randomArray((tb ? n : k) * ldb, seed: 32)
                var c = randomArray(m * ldc, seed: 33)
                if beta == 0 { for i in c.indices where i % 5 == 0 { c[i] = .nan } }  // beta 0 must not read C
                var reference = c
                for i in 0 ..< m {
                    for j in 0 ..< n {
                        var sum = 0.0
                        for p in 0 ..< k { sum += Double(ta ? a[p * lda + i] : a[i * lda + p]) * Double(tb ? b[j * ldb + p] : b[p * ldb + j]) }
                        reference[i * ldc + j] = Float(sum + (beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])))
                    }
                }
                runner_sgemm(Int32(level.rawValue), ta ? 1 : 0, tb ? 1 : 0, m, n, k, a, lda, b, ldb, beta, &c, ldc, workspace)
                var worst: Float = 0
                for i in 0 ..< m {
                    for j in 0 ..< ldc {
                        let x = c[i * ldc + j], y = reference[i * ldc + j]
                        if j >= n { #expect(x.bitPattern == y.bitPattern, "padding column \(j) was written"); continue }
                        worst = max(worst, abs(x - y) / max(1, abs(y)))
                    }
                }
                // float32 sums of up to 801 terms of size ≤ 1: a few ulps of the sum's magnitude.
                #expect(worst < 2e-5, "\(level) \(ta ? "T" : "N")\(tb ? "T" : "N") \(m)×\(n)×\(k) beta \(beta): worst relative error \(worst)")
            }
        }
    }

    @Test(
        "The AVX2 and AVX-512 GEMMs give bit-identical results (same k order, one FMA per term)",
        .enabled(if: CPU.level >= .avx512, "this CPU (or RUNNER_CPU) has no AVX-512"))
    func identicalAcrossLevels() {
        let workspace = UnsafeMutableRawPointer.allocate(byteCount: runner_sgemm_workspace_bytes(), alignment: 64)
        defer { workspace.deallocate() }
        for (m, n, k) in [(300, 64, 288), (128, 1500, 530), (17, 33, 1000)] {
            let a = randomArray(m * k, seed: 41), b = randomArray(k * n, seed: 42)
            var avx2 = [Float](repeating: 0, count: m * n), avx512 = avx2
            runner_sgemm(Int32(CPULevel.avx2.rawValue), 0, 0, m, n, k, a, k, b, n, 0, &avx2, n, workspace)
            runner_sgemm(Int32(CPULevel.avx512.rawValue), 0, 0, m, n, k, a, k, b, n, 0, &avx512, n, workspace)
            #expect(avx2.map(\.bitPattern) == avx512.map(\.bitPattern), "\(m)×\(n)×\(k)")
        }
    }

    @Test("RUNNER_CPU: unset means the detected level; a known name can only lower it; anything else is an error naming the choices")
    func environment() throws {
        #expect(try CPU.level(fromEnvironment: nil, detected: .avx512bf16) == .avx512bf16)
        #expect(try CPU.level(fromEnvironment: "", detected: .avx2) == .avx2)
        #expect(try CPU.level(fromEnvironment: "avx2", detected: .avx512bf16) == .avx2)
        #expect(try CPU.level(fromEnvironment: "PORTABLE", detected: .avx2) == .portable)
        #expect(try CPU.level(fromEnvironment: "avx512bf16", detected: .avx512bf16) == .avx512bf16)
        #expect(throws: CPULevelError.self) { try CPU.level(fromEnvironment: "avx512", detected: .avx2) }
        do {
            _ = try CPU.level(fromEnvironment: "avx512bf16", detected: .avx2)
            Issue.record("a level above the CPU's was accepted")
        } catch {
            #expect(
                error.description == "error: RUNNER_CPU=avx512bf16 asks for avx512bf16, but this CPU supports only up to avx2\n"
                    + "hint: RUNNER_CPU can only lower the level: use one of portable, avx2, or unset it")
        }
        do {
            _ = try CPU.level(fromEnvironment: "sse4", detected: .avx512)
            Issue.record("an unknown level was accepted")
        } catch {
            #expect(
                error.description == "error: RUNNER_CPU=\"sse4\" is not a CPU level\n"
                    + "hint: use one of portable, avx2, avx512, avx512bf16 (this CPU supports up to avx512), or unset it")
        }
    }

    @Test("precision auto is bf16 exactly where the level has AVX512-BF16; bf16 is available only there")
    func autoPrecision() {
        for level in CPULevel.allCases {
            let hasBF16 = level == .avx512bf16
            #expect(Precision.resolve(.auto, level: level) == (hasBF16 ? .bf16 : .fp32))
            #expect(Precision.resolve(.fp32, level: level) == .fp32)
            #expect(Precision.resolve(.bf16, level: level) == .bf16)
            #expect(Precision.bf16.isAvailable(at: level) == hasBF16)
            #expect(Precision.fp32.isAvailable(at: level))
        }
        #expect(PrecisionSetting(rawValue: "fp16") == nil)
        #expect(CPU.level <= CPU.detected)
        #expect(CPU.supportedLevels.first == .portable && CPU.supportedLevels.last == CPU.level)
    }

    @Test("An engine never runs above the detected level, and runs bf16 only where the level allows it")
    func engineClamps() {
        let engine = ComputeEngine(workers: 1, precision: .bf16, level: .avx2)
        #expect(engine.level == min(.avx2, CPU.detected))
        #expect(engine.precision == .fp32)
        #expect(ComputeEngine(workers: 1, level: .avx512bf16).level == CPU.detected)
    }
}

@Suite("Winograd F(2×2, 3×3)")
struct WinogradTests {
    /// Runs the three transforms and the 16 products (with the plain OpenBLAS reference GEMM).
    func winogradConvolution(_ x: [Float], _ w: [Float], _ g: Window2D, batch: Int, filters F: Int, flipped: Bool = false) -> [Float] {
        let C = g.channels, tiles = batch * winogradTiles(g)
        var u = [Float](repeating: .nan, count: 16 * C * F), v = [Float](repeating: .nan, count: 16 * tiles * C)
        var m = [Float](repeating: .nan, count: 16 * tiles * F), y = [Float](repeating: .nan, count: batch * g.outputPixels * F)
        let zeros = [Float](repeating: 0, count: C)
        if flipped {
            winogradFilterTransform(w, channels: F, filters: C, flipped: true, &u)
        } else {
            winogradFilterTransform(w, channels: C, filters: F, flipped: false, &u)
        }
        winogradInputTransform(x, g, firstTile: 0, count: tiles, zeros: zeros, &v)
        for xi in 0 ..< 16 {
            v.withUnsafeBufferPointer { v in
                u.withUnsafeBufferPointer { u in
                    m.withUnsafeMutableBufferPointer { m in
                        gemm(
                            m: tiles, n: F, k: C, v.baseAddress! + xi * C, lda: 16 * C, u.baseAddress! + xi * C * F, ldb: F, beta: 0, m.baseAddress! + xi * F,
                            ldc: 16 * F)
                    }
                }
            }
        }
        winogradOutputTransform(m, g, filters: F, firstTile: 0, count: tiles, accumulate: false, &y)
        return y
    }

    @Test(
        "equals direct convolution (3×3, same, stride 1) within 1e-5 relative, even and odd sizes",
        arguments: [(4, 4, 8, 8), (5, 7, 3, 6), (1, 1, 2, 2), (32, 32, 16, 8), (9, 2, 5, 4)])
    func forward(h: Int, w: Int, c: Int, f: Int) {
        let g = Window2D(inputHeight: h, inputWidth: w, channels: c, kernel: 3, stride: 1, padding: .same)
        #expect(winogradApplies(g))
        let batch = 3
        let x = randomArray(batch * g.inputSize, seed: 51), weights = randomArray(9 * c * f, seed: 52)
        let y = winogradConvolution(x, weights, g, batch: batch, filters: f)
        let reference = naiveConvolution(x, weights, g, batch: batch, filters: f)
        // |y| ≤ 9·C for inputs and weights in [−1, 1]; the transforms add a few roundings each.
        let worst = zip(y, reference).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? .nan
        #expect(worst < 1e-5, "\(h)×\(w)×\(c) → \(f): worst relative error \(worst)")
    }

    @Test("the flipped filter transform computes the input gradient: ⟨conv(x, w), dy⟩ = ⟨x, conv(dy, rot180(w)ᵀ)⟩")
    func adjoint() {
        let g = Window2D(inputHeight: 7, inputWidth: 6, channels: 5, kernel: 3, stride: 1, padding: .same)
        let F = 4, batch = 2
        let gradientWindow = Window2D(inputHeight: 7, inputWidth: 6, channels: F, kernel: 3, stride: 1, padding: .same)
        let x = randomArray(batch * g.inputSize, seed: 53), weights = randomArray(9 * 5 * F, seed: 54)
        let dy = randomArray(batch * g.outputPixels * F, seed: 55)
        let y = naiveConvolution(x, weights, g, batch: batch, filters: F)
        let dx = winogradConvolution(dy, weights, gradientWindow, batch: batch, filters: 5, flipped: true)
        let left = zip(y, dy).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        let right = zip(x, dx).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        #expect(abs(left - right) < 1e-4 * max(1, abs(left)), "\(left) vs \(right)")
    }

    @Test("applies only to 3×3, stride 1, same padding")
    func applies() {
        #expect(!winogradApplies(Window2D(inputHeight: 8, inputWidth: 8, channels: 8, kernel: 3, stride: 2, padding: .same)))
        #expect(!winogradApplies(Window2D(inputHeight: 8, inputWidth: 8, channels: 8, kernel: 3, stride: 1, padding: .valid)))
        #expect(!winogradApplies(Window2D(inputHeight: 8, inputWidth: 8, channels: 8, kernel: 2, stride: 1, padding: .same)))
        #expect(winogradApplies(Window2D(inputHeight: 8, inputWidth: 8, channels: 8, kernel: 3, stride: 1, padding: .explicit(1))))
    }
}

@Suite("Worker pool")
struct WorkerPoolTests {
    @Test("a thread the system refuses to start: the pool runs on the threads that started and says why, instead of hanging")
    func refusedThread() {
        // Starts the first extra thread for real, then fails like a pids limit would (EAGAIN).
        var calls = 0
        let pool = WorkerPool(count: 4) { thread, body, argument in
            calls += 1
            return calls == 1 ? pthread_create(thread, nil, body, argument) : EAGAIN
        }
        #expect(pool.count == 2)
        #expect(pool.startFailure == "only 2 of 4 worker threads could be started (pthread_create: \(String(cString: strerror(EAGAIN)))); running 2")
        // Every started worker runs each job exactly once, and run returns.
        let hits = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        defer { hits.deallocate() }
        hits.initialize(repeating: 0, count: 4)
        for _ in 0 ..< 3 { pool.run { worker in hits[worker] += 1 } }
        #expect((0 ..< 4).map { hits[$0] } == [3, 3, 0, 0])
        #expect(WorkerPool(count: 3).startFailure == nil)
    }

    @Test("more threads than cores run one per core, with a note; fewer run as asked")
    func threadCap() {
        #expect(WorkerPool.workers(requested: 2, cores: 2) == (2, nil))
        // The one default: every core, shared between --jobs runs, at least one each.
        #expect(WorkerPool.defaultCount(cores: 8) == 8 && WorkerPool.defaultCount(jobs: 2, cores: 8) == 4)
        #expect(WorkerPool.defaultCount(jobs: 4, cores: 2) == 1 && WorkerPool.defaultCount(jobs: 0, cores: 0) == 1)
        #expect(WorkerPool.workers(requested: 0, cores: 4).count == 1)
        let capped = WorkerPool.workers(requested: 100_000, cores: 2)
        #expect(capped.count == 2)
        #expect(capped.note == "100000 threads asked for, but this machine has 2 cores; running 2")
    }
}

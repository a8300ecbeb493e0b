import CKernels
import Foundation
import Kernels
import Tensor
import Testing

func randomArray(_ count: Int, seed: UInt64, low: Float = -1, high: Float = 1) -> [Float] {
    var random = RandomSource(seed: seed)
    return (0 ..< count).map { _ in random.uniform(low, high) }
}

/// Direct convolution, the textbook loop: the reference im2col + GEMM must match.
/// x [N, H, W, C], w [K, K, C, F] → y [N, OH, OW, F].
func naiveConvolution(_ x: [Float], _ w: [Float], _ g: Window2D, batch: Int, filters F: Int) -> [Float] {
    var y = [Float](repeating: 0, count: batch * g.outputPixels * F)
    for n in 0 ..< batch {
        for oy in 0 ..< g.outputHeight {
            for ox in 0 ..< g.outputWidth {
                for f in 0 ..< F {
                    var sum: Float = 0
                    for ky in 0 ..< g.kernelHeight {
                        for kx in 0 ..< g.kernelWidth {
                            let iy = oy * g.stride - g.padTop + ky, ix = ox * g.stride - g.padLeft + kx
                            guard iy >= 0, iy < g.inputHeight, ix >= 0, ix < g.inputWidth else { continue }
                            for c in 0 ..< g.channels {
                                sum +=
                                    x[((n * g.inputHeight + iy) * g.inputWidth + ix) * g.channels + c]
                                    * w[((ky * g.kernelWidth + kx) * g.channels + c) * F + f]
                            }
                        }
                    }
                    y[((n * g.outputHeight + oy) * g.outputWidth + ox) * F + f] = sum
                }
            }
        }
    }
    return y
}

@Suite("Kernels against naive references")
struct KernelTests {
    static let windows: [(Int, Int, Int, Int, Int, Padding)] = [
        // height, width, channels, kernel, stride, padding
        (5, 4, 2, 3, 1, .same), (6, 6, 3, 2, 1, .same), (7, 6, 2, 3, 2, .valid), (5, 5, 1, 3, 2, .explicit(1)), (8, 8, 4, 3, 2, .same),
    ]

    @Test("im2col + GEMM equals direct convolution", arguments: 0 ..< windows.count)
    func convolution(index: Int) {
        let (h, w, c, k, s, p) = Self.windows[index]
        let g = Window2D(inputHeight: h, inputWidth: w, channels: c, kernel: k, stride: s, padding: p)
        let batch = 3, filters = 5
        let x = randomArray(batch * g.inputSize, seed: 1), weights = randomArray(g.patchSize * filters, seed: 2)
        var col = [Float](repeating: .nan, count: batch * g.outputPixels * g.patchSize)
        var y = [Float](repeating: .nan, count: batch * g.outputPixels * filters)
        im2col(x, g, first: 0, count: batch, &col)
        gemm(m: batch * g.outputPixels, n: filters, k: g.patchSize, col, lda: g.patchSize, weights, ldb: filters, beta: 0, &y, ldc: filters)
        let reference = naiveConvolution(x, weights, g, batch: batch, filters: filters)
        for (a, b) in zip(y, reference) { #expect(abs(a - b) < 1e-4) }
    }

    @Test("col2im is the adjoint of im2col: ⟨im2col(x), c⟩ = ⟨x, col2im(c)⟩", arguments: 0 ..< windows.count)
    func adjoint(index: Int) {
        let (h, w, c, k, s, p) = Self.windows[index]
        let g = Window2D(inputHeight: h, inputWidth: w, channels: c, kernel: k, stride: s, padding: p)
        let batch = 2
        let x = randomArray(batch * g.inputSize, seed: 3), columns = randomArray(batch * g.outputPixels * g.patchSize, seed: 4)
        var unfolded = [Float](repeating: 0, count: columns.count)
        im2col(x, g, first: 0, count: batch, &unfolded)
        var folded = [Float](repeating: 0, count: x.count)
        col2imAdd(columns, g, first: 0, count: batch, &folded)
        let left = zip(unfolded, columns).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        let right = zip(x, folded).reduce(0.0) { $0 + Double($1.0 * $1.1) }
        #expect(abs(left - right) < 1e-3 * max(1, abs(left)))
    }

    @Test("Jacobi eigendecomposition: A v = λ v for each pair, orthonormal vectors, values descending")
    func eigen() {
        var random = RandomSource(seed: 4)
        let n = 12
        // A = B Bᵀ: symmetric, positive semi-definite, like a patch covariance.
        let b = (0 ..< n * n).map { _ in Double(random.uniform(-1, 1)) }
        var a = [Double](repeating: 0, count: n * n)
        for i in 0 ..< n { for j in 0 ..< n { for k in 0 ..< n { a[i * n + j] += b[i * n + k] * b[j * n + k] } } }
        let (values, vectors) = symmetricEigen(a, n: n)
        #expect(values == values.sorted(by: >))
        for (value, vector) in zip(values, vectors) {
            for i in 0 ..< n {
                let av = (0 ..< n).reduce(0.0) { $0 + a[i * n + $1] * vector[$1] }
                #expect(abs(av - value * vector[i]) < 1e-9 * max(1, abs(value)))
            }
        }
        for p in 0 ..< n {
            for q in 0 ..< n {
                let dot = zip(vectors[p], vectors[q]).reduce(0.0) { $0 + $1.0 * $1.1 }
                #expect(abs(dot - (p == q ? 1 : 0)) < 1e-9)
            }
        }
    }

    @Test("GELU matches x · Φ(x) at reference points (Φ from tables) and its derivative Φ(x) + x · φ(x)")
    func gelu() {
        // Φ(−2) = 0.0227501, Φ(−1) = 0.1586553, Φ(0) = ½, Φ(1) = 0.8413447, Φ(3) = 0.9986501.
        let x: [Float] = [-2, -1, 0, 1, 3]
        let expected: [Float] = [-2 * 0.022_750_1, -0.158_655_3, 0, 0.841_344_7, 3 * 0.998_650_1]
        var y = [Float](repeating: .nan, count: 5)
        geluForward(x, count: 5, &y)
        for (a, b) in zip(y, expected) { #expect(abs(a - b) < 1e-6, "\(a) vs \(b)") }
        // φ(1) = 0.2419707: d/dx at 1 is 0.8413447 + 0.2419707; at 0 it is ½.
        var dx: [Float] = [10, 10]
        geluBackward([1, 0], [1, 2], count: 2, &dx)
        #expect(abs(dx[0] - (10 + 0.841_344_7 + 0.241_970_7)) < 1e-5)
        #expect(abs(dx[1] - (10 + 2 * 0.5)) < 1e-6)
    }

    @Test("GELU at every CPU level: within 1e-6·max(1, |x|) of x·Φ(x) and of Φ(x) + x·φ(x) in double precision, over [−12, 12] and beyond")
    func geluLevels() {
        let x: [Float] = stride(from: -12.0, through: 12.0, by: 0.0037).map { Float($0) } + [0, -0.0, 1e-30, -1e-30, 1e-4, 100, -100, 1e4, -1e4]
        func cdf(_ v: Double) -> Double { 0.5 * (1 + erf(v / 2.0.squareRoot())) }
        for level in CPULevel.allCases where level <= CPU.detected {
            var y = [Float](repeating: .nan, count: x.count), dx = [Float](repeating: 0, count: x.count)
            var inPlace = [Float](repeating: 1, count: x.count)
            geluForward(x, count: x.count, &y, level: level)
            geluBackward(x, [Float](repeating: 1, count: x.count), count: x.count, &dx, level: level)
            geluGradientInPlace(x, count: x.count, &inPlace, level: level)
            var worst = (value: 0.0, derivative: 0.0)
            for i in x.indices {
                let v = Double(x[i]), tolerance = 1e-6 * max(1, abs(v))
                let derivative = cdf(v) + v * exp(-v * v / 2) / (2 * Double.pi).squareRoot()
                worst.value = max(worst.value, abs(Double(y[i]) - v * cdf(v)) / tolerance)
                worst.derivative = max(worst.derivative, abs(Double(dx[i]) - derivative) / tolerance)
                #expect(inPlace[i] == dx[i], "\(level): in place and accumulated derivatives differ at \(v)")
            }
            #expect(worst.value <= 1 && worst.derivative <= 1, "\(level): worst errors \(worst) tolerances")
            var nan: [Float] = [0]
            geluForward([.nan], count: 1, &nan, level: level)
            #expect(nan[0].isNaN, "\(level): GELU(NaN) is \(nan[0])")  // a diverging run must still be seen
        }
    }

    @Test("im2col over a chunk of examples equals the same rows of the whole batch")
    func chunkedIm2col() {
        let g = Window2D(inputHeight: 6, inputWidth: 5, channels: 3, kernel: 3, stride: 1, padding: .same)
        let x = randomArray(4 * g.inputSize, seed: 5)
        var whole = [Float](repeating: 0, count: 4 * g.outputPixels * g.patchSize)
        var part = [Float](repeating: 0, count: 2 * g.outputPixels * g.patchSize)
        im2col(x, g, first: 0, count: 4, &whole)
        im2col(x, g, first: 1, count: 2, &part)
        #expect(Array(whole[g.outputPixels * g.patchSize ..< 3 * g.outputPixels * g.patchSize]) == part)
    }

    @Test("GEMM with transposes and accumulation equals the naive triple loop")
    func gemmTransposes() {
        let m = 7, n = 5, k = 9
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randomArray(m * k, seed: 6), b = randomArray(k * n, seed: 7)
            var c = randomArray(m * n, seed: 8)
            var reference = c
            for i in 0 ..< m {
                for j in 0 ..< n {
                    var sum: Float = 0
                    for p in 0 ..< k { sum += (ta ? a[p * m + i] : a[i * k + p]) * (tb ? b[j * k + p] : b[p * n + j]) }
                    reference[i * n + j] += 2 * sum
                }
            }
            gemm(transposeA: ta, transposeB: tb, m: m, n: n, k: k, alpha: 2, a, lda: ta ? m : k, b, ldb: tb ? k : n, beta: 1, &c, ldc: n)
            for (x, y) in zip(c, reference) { #expect(abs(x - y) < 1e-4) }
        }
    }

    /// float32 → bfloat16 → float32, round to nearest even (what the bf16 GEMM's packing does).
    func bf16Rounded(_ x: Float) -> Float {
        let bits = x.bitPattern
        return Float(bitPattern: ((bits &+ 0x7fff &+ ((bits >> 16) & 1)) >> 16) << 16)
    }

    @Test(
        "bf16 GEMM equals the float64 triple loop on bf16-rounded inputs: transposes, edges, k blocks, strides, beta",
        .enabled(if: Precision.bf16.isAvailable, "this CPU has no AVX512-BF16"),
        arguments: [(1, 16, 16), (15, 33, 17), (29, 70, 801), (3, 1100, 40), (100, 45, 3)])
    func bf16GEMM(m: Int, n: Int, k: Int) {
        let workspace = UnsafeMutableRawPointer.allocate(byteCount: runner_bf16_workspace_bytes(), alignment: 64)
        defer { workspace.deallocate() }
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            for (beta, useBF16A) in [(Float(0), false), (1, false), (0.5, false), (0, true), (1, true)] {
                // Leading dimensions wider than needed: the kernel must honour them (even for a
                // bf16 A whose rows are k-contiguous: rows start on 4-byte words).
                let lda = (ta ? m + 3 : (k + 4) & ~1), ldb = (tb ? k : n) + 3, ldc = n + 3
                let a = randomArray((ta ? k : m) * lda, seed: 16), b = randomArray((tb ? n : k) * ldb, seed: 17)
                var c = randomArray(m * ldc, seed: 18)
                if beta == 0 { for i in c.indices where i % 5 == 0 { c[i] = .nan } }  // beta 0 must not read C
                var reference = c
                for i in 0 ..< m {
                    for j in 0 ..< n {
                        var sum = 0.0
                        for p in 0 ..< k {
                            let product = Double(bf16Rounded(ta ? a[p * lda + i] : a[i * lda + p])) * Double(bf16Rounded(tb ? b[j * ldb + p] : b[p * ldb + j]))
                            sum += product
                        }
                        let old = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                        reference[i * ldc + j] = Float(sum + old)
                    }
                }
                if useBF16A {
                    // A handed over already rounded to bf16 (im2col's columns in bf16 precision).
                    let a16 = a.map { UInt16(bf16Rounded($0).bitPattern >> 16) }
                    runner_sgemm_bf16_a16(ta ? 1 : 0, tb ? 1 : 0, m, n, k, a16, lda, b, ldb, beta, &c, ldc, workspace)
                } else {
                    runner_sgemm_bf16(ta ? 1 : 0, tb ? 1 : 0, m, n, k, a, lda, b, ldb, beta, &c, ldc, workspace)
                }
                var worst: Float = 0
                for i in 0 ..< m {
                    for j in 0 ..< ldc {
                        let x = c[i * ldc + j], y = reference[i * ldc + j]
                        if j >= n { #expect(x.bitPattern == y.bitPattern, "padding column \(j) was written"); continue }
                        worst = max(worst, abs(x - y) / max(1, abs(y)))
                    }
                }
                // Only the float32 summation order differs from the reference.
                #expect(
                    worst < 1e-5, "\(ta ? "T" : "N")\(tb ? "T" : "N") \(m)×\(n)×\(k) beta \(beta)\(useBF16A ? " bf16 A" : ""): worst relative error \(worst)")
            }
        }
    }

    @Test(
        "im2col into bf16 equals im2col rounded to bf16, rows zero-padded to an even length",
        .enabled(if: Precision.bf16.isAvailable, "this CPU has no AVX512-BF16"), arguments: 0 ... windows.count)
    func im2colIntoBF16(index: Int) {
        // The shared windows, plus one with 20 channels (runs longer than one 16-lane vector).
        let (h, w, c, k, s, p) = index < Self.windows.count ? Self.windows[index] : (6, 7, 20, 3, 1, Padding.same)
        let g = Window2D(inputHeight: h, inputWidth: w, channels: c, kernel: k, stride: s, padding: p), batch = 3
        let x = randomArray(batch * g.inputSize, seed: 21)
        var reference = [Float](repeating: 0, count: 2 * g.outputPixels * g.patchSize)
        im2col(x, g, first: 1, count: 2, &reference)
        let rowLength = (g.patchSize + 1) & ~1
        var columns = [UInt16](repeating: 0xFFFF, count: 2 * g.outputPixels * rowLength)
        im2colBF16(x, g, first: 1, count: 2, &columns, rowLength: rowLength)
        for row in 0 ..< 2 * g.outputPixels {
            for j in 0 ..< rowLength {
                let expected = j < g.patchSize ? UInt16(bf16Rounded(reference[row * g.patchSize + j]).bitPattern >> 16) : 0
                #expect(columns[row * rowLength + j] == expected)
                if columns[row * rowLength + j] != expected { return }
            }
        }
    }

    @Test("max pooling equals the naive window maximum, padding never wins, at every supported CPU level", arguments: CPU.supportedLevels)
    func maxPool(level: CPULevel) {
        // 2 channels (scalar tails only) and 37 (vectors of every width plus a tail).
        for C in [2, 37] {
            let g = Window2D(inputHeight: 5, inputWidth: 6, channels: C, kernel: 3, stride: 2, padding: .same)
            let x = randomArray(g.inputSize, seed: 9, low: -5, high: -1)  // all negative: a zero pad would win
            var y = [Float](repeating: 0, count: g.outputPixels * C), argmax = [UInt16](repeating: 0, count: y.count)
            maxPoolForward(x, g, batch: 1, &y, argmax: &argmax, level: level)
            for oy in 0 ..< g.outputHeight {
                for ox in 0 ..< g.outputWidth {
                    for c in 0 ..< C {
                        var best = -Float.infinity
                        for ky in 0 ..< 3 {
                            for kx in 0 ..< 3 {
                                let iy = oy * 2 - g.padTop + ky, ix = ox * 2 - g.padLeft + kx
                                if iy >= 0, iy < 5, ix >= 0, ix < 6 { best = max(best, x[(iy * 6 + ix) * C + c]) }
                            }
                        }
                        #expect(y[(oy * g.outputWidth + ox) * C + c] == best)
                        #expect(x[maxPoolWinner(g, oy, ox, argmax[(oy * g.outputWidth + ox) * C + c]) * C + c] == best)
                    }
                }
            }
        }
    }

    @Test("max pooling sends a tie's gradient to the first maximum only, at every supported CPU level", arguments: CPU.supportedLevels)
    func maxPoolTie(level: CPULevel) {
        let g = Window2D(inputHeight: 2, inputWidth: 2, channels: 1, kernel: 2, stride: 2, padding: .valid)
        let x: [Float] = [0, 3, 3, 1]
        var y: [Float] = [0], argmax: [UInt16] = [0], dx: [Float] = [0, 0, 0, 0]
        maxPoolForward(x, g, batch: 1, &y, argmax: &argmax, level: level)
        maxPoolBackward([1], argmax: argmax, g, batch: 1, &dx)
        #expect(dx == [0, 1, 0, 0])
    }

    @Test("softmax cross-entropy: value, accuracy and gradient against finite differences")
    func softmaxCrossEntropyGradient() {
        let n = 3, k = 4
        var logits = randomArray(n * k, seed: 10, low: -3, high: 3)
        let labels: [Int32] = [0, 3, 2]
        for smoothing: Float in [0, 0.1] {
            var gradient = [Float](repeating: 0, count: n * k)
            let result = softmaxCrossEntropy(logits, labels: labels, batch: n, classes: k, labelSmoothing: smoothing, &gradient)
            // Reference value in Double.
            var expected = 0.0, correct = 0
            for i in 0 ..< n {
                let row = (0 ..< k).map { Double(logits[i * k + $0]) }
                let logSum = log(row.map { exp($0) }.reduce(0, +))
                for j in 0 ..< k {
                    let target = (j == Int(labels[i]) ? 1 - Double(smoothing) : 0) + Double(smoothing) / Double(k)
                    expected -= target * (row[j] - logSum)
                }
                if row.firstIndex(of: row.max()!) == Int(labels[i]) { correct += 1 }
            }
            #expect(abs(result.lossSum - expected) < 1e-4)
            #expect(result.correct == correct)
            for index in logits.indices {
                let original = logits[index]
                logits[index] = original + 1e-2
                let plus = softmaxCrossEntropy(logits, labels: labels, batch: n, classes: k, labelSmoothing: smoothing, nil).lossSum
                logits[index] = original - 1e-2
                let minus = softmaxCrossEntropy(logits, labels: labels, batch: n, classes: k, labelSmoothing: smoothing, nil).lossSum
                logits[index] = original
                let numeric = (plus - minus) / 2e-2 / Double(n)  // the gradient is of the mean
                #expect(abs(numeric - Double(gradient[index])) < 1e-3)
            }
        }
    }

    @Test("softmax cross-entropy stays finite for huge logits")
    func softmaxStability() {
        let result = softmaxCrossEntropy([1000, -1000, 0], labels: [1], batch: 1, classes: 3, nil)
        #expect(result.lossSum.isFinite && abs(result.lossSum - 2000) < 1e-3)
    }

    @Test("Adam's first step moves each weight by about lr against its gradient's sign")
    func adamFirstStep() {
        var w: [Float] = [1, -2, 0.5], m = [Float](repeating: 0, count: 3), v = m
        let g: [Float] = [0.3, -4, 1e-3]
        adamUpdate(&w, g, m: &m, v: &v, count: 3, learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, step: 1, weightDecay: 0, decoupled: false)
        // m̂ = g, v̂ = g², so the step is lr · g / (|g| + ε) ≈ lr · sign(g).
        for (after, (before, grad)) in zip(w, zip([Float(1), -2, 0.5], g)) {
            #expect(abs(after - (before - 0.1 * grad / (abs(grad) + 1e-8))) < 1e-5)
        }
    }

    @Test("Adam matches the textbook formulas over several steps; AdamW decays decoupled")
    func adamSteps() {
        var w: [Float] = [0.7], m: [Float] = [0], v: [Float] = [0]
        var wRef = 0.7, mRef = 0.0, vRef = 0.0
        for t in 1 ... 5 {
            let grad = 0.1 * Double(t) - 0.2
            adamUpdate(
                &w, [Float(grad)], m: &m, v: &v, count: 1, learningRate: 0.01, beta1: 0.9, beta2: 0.99, epsilon: 1e-8, step: t, weightDecay: 0.1,
                decoupled: true)
            wRef -= 0.01 * 0.1 * wRef
            mRef = 0.9 * mRef + 0.1 * grad
            vRef = 0.99 * vRef + 0.01 * grad * grad
            let mHat = mRef / (1 - pow(0.9, Double(t))), vHat = vRef / (1 - pow(0.99, Double(t)))
            wRef -= 0.01 * mHat / (vHat.squareRoot() + 1e-8)
        }
        #expect(abs(Double(w[0]) - wRef) < 1e-5)
    }

    @Test("SGD with momentum and Nesterov matches PyTorch's update rule")
    func sgd() {
        for nesterov in [false, true] {
            var w: [Float] = [1], velocity: [Float] = [0]
            var wRef = 1.0, vRef = 0.0
            for t in 1 ... 4 {
                let grad = Double(t) * 0.5
                sgdUpdate(&w, [Float(grad)], velocity: &velocity, count: 1, learningRate: 0.1, momentum: 0.9, nesterov: nesterov, weightDecay: 0.01)
                let g = grad + 0.01 * wRef
                vRef = 0.9 * vRef + g
                wRef -= 0.1 * (nesterov ? g + 0.9 * vRef : vRef)
            }
            #expect(abs(Double(w[0]) - wRef) < 1e-5)
        }
    }

    @Test("batchnorm forward normalises each channel to mean β and standard deviation γ")
    func batchNormStatistics() {
        let rows = 50, channels = 3
        let x = randomArray(rows * channels, seed: 11, low: 2, high: 9)
        var y = [Float](repeating: 0, count: x.count)
        var runningMean: [Float] = [0, 0, 0], runningVariance: [Float] = [1, 1, 1], mean: [Float] = [0, 0, 0], inverse: [Float] = [0, 0, 0]
        batchNormTrainForward(
            x, rows: rows, channels: channels, gamma: [1, 2, 3], beta: [0, 1, -1], epsilon: 1e-5, momentum: 0.9,
            runningMean: &runningMean, runningVariance: &runningVariance, savedMean: &mean, savedInverseStd: &inverse, &y)
        for c in 0 ..< channels {
            let column = (0 ..< rows).map { Double(y[$0 * channels + c]) }
            let average = column.reduce(0, +) / Double(rows)
            let std = (column.map { ($0 - average) * ($0 - average) }.reduce(0, +) / Double(rows)).squareRoot()
            #expect(abs(average - [0, 1, -1][c]) < 1e-4)
            #expect(abs(std - [1, 2, 3][c]) < 1e-3)
            #expect(abs(Double(runningMean[c]) - 0.1 * Double(mean[c])) < 1e-5)
        }
    }
}

@Suite("Max pooling's window positions")
struct WindowPositionTests {
    @Test("the multiply-and-shift quotient equals p / K for every window position of every window up to 256×256")
    func reciprocal() {
        var wrong = 0
        for K in 1 ... 256 {
            let reciprocal = windowReciprocal(K)
            for p in 0 ..< K * K where (p &* reciprocal) >> 32 != p / K { wrong += 1 }
        }
        #expect(wrong == 0)
    }
}

import CKernels
import Tensor

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// R = rows (examples × pixels), C = channels or features; matrices are [R, C] row-major.

/// y[r, c] += bias[c], then y = max(y, 0) when `relu`: the pass that follows a GEMM.
public func addBias(_ y: UnsafeMutablePointer<Float>, rows R: Int, columns C: Int, _ bias: UnsafePointer<Float>, relu: Bool) {
    for r in 0 ..< R {
        let row = y + r * C
        if relu {
            for c in 0 ..< C { row[c] = max(row[c] + bias[c], 0) }
        } else {
            for c in 0 ..< C { row[c] += bias[c] }
        }
    }
}

/// dBias[c] += Σ_r dy[r, c].
public func addBiasGradient(_ dy: UnsafePointer<Float>, rows R: Int, columns C: Int, _ dBias: UnsafeMutablePointer<Float>) {
    for r in 0 ..< R {
        let row = dy + r * C
        for c in 0 ..< C { dBias[c] += row[c] }
    }
}

/// y = max(x, 0).
public func reluForward(_ x: UnsafePointer<Float>, count: Int, _ y: UnsafeMutablePointer<Float>) {
    for i in 0 ..< count { y[i] = max(x[i], 0) }
}

/// dx += dy where y > 0. At x = 0 the subgradient 0 is taken (as TensorFlow and PyTorch do).
public func reluBackward(_ y: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, count: Int, _ dx: UnsafeMutablePointer<Float>) {
    for i in 0 ..< count where y[i] > 0 { dx[i] += dy[i] }
}

/// dy = 0 where y ≤ 0, in place: turns the gradient of a fused ReLU's output into the gradient
/// of its pre-activation.
public func reluMaskInPlace(_ y: UnsafePointer<Float>, count: Int, _ dy: UnsafeMutablePointer<Float>) {
    for i in 0 ..< count where !(y[i] > 0) { dy[i] = 0 }
}

/// y = x + z.
public func add(_ x: UnsafePointer<Float>, _ z: UnsafePointer<Float>, count: Int, _ y: UnsafeMutablePointer<Float>) {
    for i in 0 ..< count { y[i] = x[i] + z[i] }
}

/// y += x.
public func accumulate(_ x: UnsafePointer<Float>, count: Int, into y: UnsafeMutablePointer<Float>) {
    for i in 0 ..< count { y[i] += x[i] }
}

/// y = x · mask (inverted dropout: the mask holds 0 or 1 / (1 − rate)).
public func multiply(_ x: UnsafePointer<Float>, _ mask: UnsafePointer<Float>, count: Int, _ y: UnsafeMutablePointer<Float>) {
    for i in 0 ..< count { y[i] = x[i] * mask[i] }
}

/// dx += dy · mask.
public func multiplyAdd(_ dy: UnsafePointer<Float>, _ mask: UnsafePointer<Float>, count: Int, _ dx: UnsafeMutablePointer<Float>) {
    for i in 0 ..< count { dx[i] += dy[i] * mask[i] }
}

/// GELU, the exact form: y = x · Φ(x) = ½ x (1 + erf(x / √2)), Φ the standard normal CDF
/// (PyTorch's `nn.GELU()` default; not the tanh approximation). In C (CKernels/gelu_body.h),
/// vectorised for the level: erf by Abramowitz & Stegun 7.1.26 (|error| ≤ 1.5·10⁻⁷), where
/// libm's erff and expf, calls the compiler cannot vectorise, would keep the loop scalar.
public func geluForward(_ x: UnsafePointer<Float>, count: Int, _ y: UnsafeMutablePointer<Float>, level: CPULevel = CPU.level) {
    runner_gelu_forward(Int32(min(level, CPU.detected).rawValue), x, count, y)
}

/// dx += dy · (Φ(x) + x · φ(x)), φ(x) = e^(−x²/2) / √(2π): the derivative of x · Φ(x).
public func geluBackward(
    _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, count: Int, _ dx: UnsafeMutablePointer<Float>, level: CPULevel = CPU.level
) {
    runner_gelu_backward(Int32(min(level, CPU.detected).rawValue), x, dy, count, dx)
}

/// A GELU fused after a GEMM, in place on its output: the pre-activation is kept in `pre`
/// (GELU's derivative needs x, not y), then y = x · Φ(x).
public func geluInPlace(_ y: UnsafeMutablePointer<Float>, count: Int, saving pre: UnsafeMutablePointer<Float>) {
    pre.update(from: y, count: count)
    geluForward(pre, count: count, y)
}

/// The fused GELU's backward, in place on the output gradient: dy ⊙= Φ(x) + x · φ(x).
public func geluGradientInPlace(_ x: UnsafePointer<Float>, count: Int, _ dy: UnsafeMutablePointer<Float>, level: CPULevel = CPU.level) {
    runner_gelu_gradient_in_place(Int32(min(level, CPU.detected).rawValue), x, count, dy)
}

/// y = factor · x.
public func scale(_ x: UnsafePointer<Float>, by factor: Float, count: Int, _ y: UnsafeMutablePointer<Float>) {
    for i in 0 ..< count { y[i] = factor * x[i] }
}

/// dx += factor · dy.
public func scaleAdd(_ dy: UnsafePointer<Float>, by factor: Float, count: Int, _ dx: UnsafeMutablePointer<Float>) {
    for i in 0 ..< count { dx[i] += factor * dy[i] }
}

import Tensor

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

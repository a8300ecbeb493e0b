import CKernels
import Tensor

// N = examples, H/W = input height/width, C = channels, OH/OW = output height/width.
// x is [N, H, W, C], y is [N, OH, OW, C]. Padding positions never win a max and never count
// in an average (TensorFlow's rule).

/// Max pooling: y[n, oy, ox, c] = max over the window of x[n, iy, ix, c]. Also records, per
/// output, which input pixel won: its position in the window, ky·K + kx, as a UInt16 (windows
/// are at most 256×256; `maxPoolWinner` turns it into the pixel). The first maximum in row-major
/// window order wins, so ties and ReLU zeros resolve as TensorFlow does.
public func maxPoolForward(
    _ x: UnsafePointer<Float>, _ g: Window2D, batch: Int, _ y: UnsafeMutablePointer<Float>, argmax: UnsafeMutablePointer<UInt16>,
    level: CPULevel = CPU.level
) {
    // In C (CKernels/pooling_body.h), vectorised over channels for the level.
    runner_maxpool_forward(
        Int32(min(level, CPU.detected).rawValue), x, g.inputHeight, g.inputWidth, g.channels, g.kernelWidth, g.stride,
        g.padTop, g.padLeft, g.outputHeight, g.outputWidth, batch, y, argmax)
}

/// Max pooling backward: each dy goes to the input pixel that won in forward.
public func maxPoolBackward(_ dy: UnsafePointer<Float>, argmax: UnsafePointer<UInt16>, _ g: Window2D, batch: Int, _ dx: UnsafeMutablePointer<Float>) {
    let C = g.channels, K = g.kernelWidth, W = g.inputWidth, reciprocal = windowReciprocal(K)
    for n in 0 ..< batch {
        let dImage = dx + n * g.inputSize
        for oy in 0 ..< g.outputHeight {
            for ox in 0 ..< g.outputWidth {
                let offset = ((n * g.outputHeight + oy) * g.outputWidth + ox) * C
                let origin = (oy * g.stride - g.padTop) * W + (ox * g.stride - g.padLeft)
                for c in 0 ..< C {
                    // ky = position / K by a multiply and a shift: a division per value cost
                    // a tenth of the training step.
                    let position = Int(argmax[offset + c]), ky = (position &* reciprocal) >> 32
                    dImage[(origin + ky * W + position - ky * K) * C + c] += dy[offset + c]
                }
            }
        }
    }
}

/// ⌈2³² / K⌉: for a window position p < K² ≤ 2¹⁶, (p · it) >> 32 = ⌊p / K⌋ exactly (the
/// rounding error p · (it · K − 2³²) stays below 2²⁴, far under 2³²; tested for every K ≤ 256).
@inline(__always)
public func windowReciprocal(_ K: Int) -> Int { ((1 << 32) + K - 1) / K }

/// The input pixel (iy·W + ix) at `position` (ky·K + kx) of output (oy, ox)'s window.
public func maxPoolWinner(_ g: Window2D, _ oy: Int, _ ox: Int, _ position: UInt16) -> Int {
    let (ky, kx) = Int(position).quotientAndRemainder(dividingBy: g.kernelWidth)
    return (oy * g.stride - g.padTop + ky) * g.inputWidth + (ox * g.stride - g.padLeft + kx)
}

/// Average pooling: y = mean of the window's in-image inputs.
public func avgPoolForward(_ x: UnsafePointer<Float>, _ g: Window2D, batch: Int, _ y: UnsafeMutablePointer<Float>) {
    let C = g.channels
    for n in 0 ..< batch {
        let image = x + n * g.inputSize
        for oy in 0 ..< g.outputHeight {
            for ox in 0 ..< g.outputWidth {
                let out = y + ((n * g.outputHeight + oy) * g.outputWidth + ox) * C
                out.update(repeating: 0, count: C)
                var pixels = 0
                forEachWindowPixel(g, oy, ox) { pixel in
                    let src = image + pixel * C
                    for c in 0 ..< C { out[c] += src[c] }
                    pixels += 1
                }
                let scale = 1 / Float(max(pixels, 1))
                for c in 0 ..< C { out[c] *= scale }
            }
        }
    }
}

/// Average pooling backward: dx[window] += dy / (in-image pixels of the window).
public func avgPoolBackward(_ dy: UnsafePointer<Float>, _ g: Window2D, batch: Int, _ dx: UnsafeMutablePointer<Float>) {
    let C = g.channels
    for n in 0 ..< batch {
        let dImage = dx + n * g.inputSize
        for oy in 0 ..< g.outputHeight {
            for ox in 0 ..< g.outputWidth {
                let grad = dy + ((n * g.outputHeight + oy) * g.outputWidth + ox) * C
                var pixels = 0
                forEachWindowPixel(g, oy, ox) { _ in pixels += 1 }
                let scale = 1 / Float(max(pixels, 1))
                forEachWindowPixel(g, oy, ox) { pixel in
                    let dst = dImage + pixel * C
                    for c in 0 ..< C { dst[c] += grad[c] * scale }
                }
            }
        }
    }
}

/// Calls `body` with the flat pixel index (iy · W + ix) of every in-image position of the
/// window of output (oy, ox), in row-major order.
@inline(__always)
func forEachWindowPixel(_ g: Window2D, _ oy: Int, _ ox: Int, _ body: (Int) -> Void) {
    let y0 = oy * g.stride - g.padTop, x0 = ox * g.stride - g.padLeft
    for iy in max(y0, 0) ..< min(y0 + g.kernelHeight, g.inputHeight) {
        for ix in max(x0, 0) ..< min(x0 + g.kernelWidth, g.inputWidth) {
            body(iy * g.inputWidth + ix)
        }
    }
}

/// Global average pooling: y[n, c] = mean over pixels p of x[n, p, c].
public func globalAvgPoolForward(_ x: UnsafePointer<Float>, pixels: Int, channels C: Int, batch: Int, _ y: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(pixels)
    for n in 0 ..< batch {
        let out = y + n * C
        out.update(repeating: 0, count: C)
        for p in 0 ..< pixels {
            let src = x + (n * pixels + p) * C
            for c in 0 ..< C { out[c] += src[c] }
        }
        for c in 0 ..< C { out[c] *= scale }
    }
}

/// Global average pooling backward: dx[n, p, c] += dy[n, c] / pixels.
public func globalAvgPoolBackward(_ dy: UnsafePointer<Float>, pixels: Int, channels C: Int, batch: Int, _ dx: UnsafeMutablePointer<Float>) {
    let scale = 1 / Float(pixels)
    for n in 0 ..< batch {
        let grad = dy + n * C
        for p in 0 ..< pixels {
            let dst = dx + (n * pixels + p) * C
            for c in 0 ..< C { dst[c] += grad[c] * scale }
        }
    }
}

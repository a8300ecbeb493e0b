import CKernels
import Tensor

// N = examples, H/W = input height/width, C = input channels, K = kernel size,
// OH/OW = output height/width. Layouts: x is [N, H, W, C]; col is [N·OH·OW, K·K·C].

/// Unfolds every receptive field of examples `first ..< first + count` into one row of `col`,
/// so that a convolution becomes a single GEMM: y = col · W with W laid out [K·K·C, filters].
/// Positions in the padding become zeros.
public func im2col(_ x: UnsafePointer<Float>, _ g: Window2D, first: Int, count: Int, _ col: UnsafeMutablePointer<Float>) {
    let C = g.channels, K = g.kernelWidth, patch = g.patchSize
    var row = col
    for n in first ..< first + count {
        let image = x + n * g.inputSize
        for oy in 0 ..< g.outputHeight {
            for ox in 0 ..< g.outputWidth {
                var dst = row
                for ky in 0 ..< g.kernelHeight {
                    let iy = oy * g.stride - g.padTop + ky
                    guard iy >= 0 && iy < g.inputHeight else {
                        dst.update(repeating: 0, count: K * C)
                        dst += K * C
                        continue
                    }
                    // Columns of this kernel row inside the image form one contiguous run.
                    let ix0 = ox * g.stride - g.padLeft
                    let kxStart = min(max(0, -ix0), K)
                    let kxEnd = max(min(K, g.inputWidth - ix0), kxStart)
                    dst.update(repeating: 0, count: kxStart * C)
                    (dst + kxStart * C).update(from: image + (iy * g.inputWidth + ix0 + kxStart) * C, count: (kxEnd - kxStart) * C)
                    (dst + kxEnd * C).update(repeating: 0, count: (K - kxEnd) * C)
                    dst += K * C
                }
                row += patch
            }
        }
    }
}

/// The adjoint of `im2col`: adds every row of `dcol` back onto the input positions it was
/// copied from (`dx += col2im(dcol)`); overlapping windows sum.
public func col2imAdd(_ dcol: UnsafePointer<Float>, _ g: Window2D, first: Int, count: Int, _ dx: UnsafeMutablePointer<Float>) {
    let C = g.channels, K = g.kernelWidth, patch = g.patchSize
    var row = dcol
    for n in first ..< first + count {
        let image = dx + n * g.inputSize
        for oy in 0 ..< g.outputHeight {
            for ox in 0 ..< g.outputWidth {
                for ky in 0 ..< g.kernelHeight {
                    let iy = oy * g.stride - g.padTop + ky
                    guard iy >= 0 && iy < g.inputHeight else { continue }
                    let ix0 = ox * g.stride - g.padLeft
                    let kxStart = max(0, -ix0), kxEnd = min(K, g.inputWidth - ix0)
                    guard kxEnd > kxStart else { continue }
                    let src = row + (ky * K + kxStart) * C
                    let dst = image + (iy * g.inputWidth + ix0 + kxStart) * C
                    for i in 0 ..< (kxEnd - kxStart) * C { dst[i] += src[i] }
                }
                row += patch
            }
        }
    }
}

/// `im2col` into bfloat16 for the bf16 GEMM (rounded to nearest even), each row zero-padded
/// to `rowLength` elements (the patch size rounded up to even, so rows start on 4-byte words).
/// Half the bytes of the float32 columns, and the GEMM need not convert them again.
public func im2colBF16(_ x: UnsafePointer<Float>, _ g: Window2D, first: Int, count: Int, _ col: UnsafeMutablePointer<UInt16>, rowLength: Int) {
    precondition(g.kernelHeight == g.kernelWidth && rowLength >= g.patchSize)
    runner_im2col_bf16(
        x, g.inputHeight, g.inputWidth, g.channels, g.kernelWidth, g.stride, g.padTop, g.padLeft,
        g.outputHeight, g.outputWidth, first, count, col, rowLength)
}

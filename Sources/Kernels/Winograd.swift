import CKernels
import Tensor

// Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015) for 3×3, stride-1 convolutions padded by 1 (`same`), NHWC.
//
// The output is cut into 2×2 tiles; tile (ty, tx) reads the 4×4 input patch d whose corner is
// (2ty − 1, 2tx − 1). For one input channel c and filter g (3×3):
//     Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
//     Bᵀ = ⎡1  0 −1  0⎤     G = ⎡ 1    0    0 ⎤     Aᵀ = ⎡1  1  1  0⎤
//          ⎢0  1  1  0⎥         ⎢ ½    ½    ½ ⎥          ⎣0  1 −1 −1⎦
//          ⎢0 −1  1  0⎥         ⎢ ½   −½    ½ ⎥
//          ⎣0  1  0 −1⎦         ⎣ 0    0    1 ⎦
// The weight gradient runs the same way backwards (the adjoint of each linear step):
//     dM = A dY Aᵀ (per tile),   dU_ξ[C × F] = Σ_tiles V_ξᵀ · dM_ξ,   dg = Gᵀ dU G.
// Summing over channels turns the 16 element-wise products into 16 GEMMs, one per position ξ
// of the 4×4 transformed tile:  M_ξ[tiles × F] = V_ξ[tiles × C] · U_ξ[C × F],
// with V = Bᵀ d B (the input transform) and U = G g Gᵀ (the filter transform). A 2×2 output
// tile then costs 16 multiply-adds per (c, f) instead of 36: 2.25× fewer, paid for with the
// transforms (adds only, linear in C or F) and slightly larger rounding error than the direct
// sum (the transforms' ½s and differences; in float32 well under 1e-5 relative on the seed
// model's layers, tested against direct convolution).
//
// Layouts: V is [tiles][16][C], M is [tiles][16][F] (a tile's 16 positions together, so the
// transforms read and write sequentially; the GEMM of position ξ takes every 16th row, lda 16·C),
// U is [16][C][F]. Tiles are numbered through the batch (example, tile row, tile column) and
// processed in blocks, so that a block's V and M stay in L2 between the transforms and the GEMMs.

/// Whether F(2×2, 3×3) applies to this window: 3×3, stride 1, one row/column of zeros on
/// every side, output the size of the input.
public func winogradApplies(_ g: Window2D) -> Bool {
    g.kernelHeight == 3 && g.kernelWidth == 3 && g.stride == 1 && g.padTop == 1 && g.padLeft == 1
        && g.outputHeight == g.inputHeight && g.outputWidth == g.inputWidth
}

/// 2×2 output tiles of one example.
public func winogradTiles(_ g: Window2D) -> Int { ((g.outputHeight + 1) / 2) * ((g.outputWidth + 1) / 2) }

/// (x0, x1, x2) · Gᵀ: one row of a filter through G's four rows.
@inline(__always)
func filterRow(_ x0: Float, _ x1: Float, _ x2: Float) -> (Float, Float, Float, Float) {
    (x0, 0.5 * (x0 + x1 + x2), 0.5 * (x0 - x1 + x2), x2)
}

/// U_ξ[c, f] = (G g Gᵀ)_ξ for HWIO weights w [3, 3, C, F], into u [16][C][F]. `flipped`
/// transforms instead the filters of the backward (data) pass, g'[ky, kx] = w[2 − ky, 2 − kx]
/// with input and output channels swapped, into u [16][F][C]: the input gradient of a
/// same-padded stride-1 convolution is the output gradient convolved with the kernel rotated
/// by 180° and its channels swapped.
public func winogradFilterTransform(_ w: UnsafePointer<Float>, channels C: Int, filters F: Int, flipped: Bool, _ u: UnsafeMutablePointer<Float>) {
    let plane = C * F
    for c in 0 ..< C {
        for f in 0 ..< F {
            @inline(__always) func g(_ i: Int, _ j: Int) -> Float {
                flipped ? w[(((2 - i) * 3 + 2 - j) * C + c) * F + f] : w[((i * 3 + j) * C + c) * F + f]
            }
            // G g: the columns of g through G (4 rows × 3 columns), then each row through Gᵀ.
            let c0 = filterRow(g(0, 0), g(1, 0), g(2, 0)), c1 = filterRow(g(0, 1), g(1, 1), g(2, 1)), c2 = filterRow(g(0, 2), g(1, 2), g(2, 2))
            let r0 = filterRow(c0.0, c1.0, c2.0), r1 = filterRow(c0.1, c1.1, c2.1)
            let r2 = filterRow(c0.2, c1.2, c2.2), r3 = filterRow(c0.3, c1.3, c2.3)
            let at = flipped ? f * C + c : c * F + f
            let out = u + at
            @inline(__always) func store(_ row: Int, _ r: (Float, Float, Float, Float)) {
                out[(4 * row) * plane] = r.0; out[(4 * row + 1) * plane] = r.1
                out[(4 * row + 2) * plane] = r.2; out[(4 * row + 3) * plane] = r.3
            }
            store(0, r0); store(1, r1); store(2, r2); store(3, r3)
        }
    }
}

/// V = Bᵀ d B for 2×2 output tiles first ..< first + count of x [N, H, W, C] (tiles numbered
/// through the batch: example, tile row, tile column; positions in the padding read `zeros`,
/// C zeros), into v [count][16][C]. In C (CKernels/winograd_body.h), vectorised over channels
/// for `level`.
public func winogradInputTransform(
    _ x: UnsafePointer<Float>, _ g: Window2D, firstTile first: Int, count: Int,
    zeros: UnsafePointer<Float>, _ v: UnsafeMutablePointer<Float>, level: CPULevel = CPU.level
) {
    runner_winograd_input(Int32(min(level, CPU.detected).rawValue), x, g.inputHeight, g.inputWidth, g.channels, first, count, zeros, v)
}

/// Y = Aᵀ M A for tiles first ..< first + count from m [count][16][F], written into y
/// [N, H, W, F] (the parts of edge tiles outside an odd-sized output are dropped);
/// `accumulate` adds to y instead of overwriting it.
public func winogradOutputTransform(
    _ m: UnsafePointer<Float>, _ g: Window2D, filters F: Int, firstTile first: Int, count: Int,
    accumulate: Bool, _ y: UnsafeMutablePointer<Float>, level: CPULevel = CPU.level
) {
    runner_winograd_output(Int32(min(level, CPU.detected).rawValue), m, g.outputHeight, g.outputWidth, F, first, count, accumulate ? 1 : 0, y)
}

/// dM = A dY Aᵀ for 2×2 output tiles first ..< first + count of dy [N, H, W, F], into dm
/// [count][16][F] (output positions past an odd H or W read `zeros`, F zeros): the adjoint of
/// the output transform, for the weight gradient.
public func winogradOutputAdjoint(
    _ dy: UnsafePointer<Float>, _ g: Window2D, filters F: Int, firstTile first: Int, count: Int,
    zeros: UnsafePointer<Float>, _ dm: UnsafeMutablePointer<Float>, level: CPULevel = CPU.level
) {
    runner_winograd_output_adjoint(Int32(min(level, CPU.detected).rawValue), dy, g.outputHeight, g.outputWidth, F, first, count, zeros, dm)
}

/// x · G: a 4-vector back through G (the adjoint of `filterRow`): (x0 + ½x1 + ½x2, ½x1 − ½x2, ½x1 + ½x2 + x3).
@inline(__always)
func filterRowAdjoint(_ x0: Float, _ x1: Float, _ x2: Float, _ x3: Float) -> (Float, Float, Float) {
    (x0 + 0.5 * (x1 + x2), 0.5 * (x1 - x2), 0.5 * (x1 + x2) + x3)
}

/// dW += Gᵀ dU G: the filter transform's adjoint, from du [16][C][F] into HWIO dw [3, 3, C, F].
public func winogradFilterGradient(_ du: UnsafePointer<Float>, channels C: Int, filters F: Int, _ dw: UnsafeMutablePointer<Float>) {
    let plane = C * F
    for c in 0 ..< C {
        for f in 0 ..< F {
            let at = du + c * F + f
            @inline(__always) func u(_ i: Int, _ j: Int) -> Float { at[(4 * i + j) * plane] }
            // Each row of dU through G, then each of the three resulting columns.
            let r0 = filterRowAdjoint(u(0, 0), u(0, 1), u(0, 2), u(0, 3)), r1 = filterRowAdjoint(u(1, 0), u(1, 1), u(1, 2), u(1, 3))
            let r2 = filterRowAdjoint(u(2, 0), u(2, 1), u(2, 2), u(2, 3)), r3 = filterRowAdjoint(u(3, 0), u(3, 1), u(3, 2), u(3, 3))
            let k0 = filterRowAdjoint(r0.0, r1.0, r2.0, r3.0), k1 = filterRowAdjoint(r0.1, r1.1, r2.1, r3.1), k2 = filterRowAdjoint(r0.2, r1.2, r2.2, r3.2)
            // k_j = column j of dg: (dg[0][j], dg[1][j], dg[2][j]).
            @inline(__always) func add(_ i: Int, _ j: Int, _ value: Float) { dw[((i * 3 + j) * C + c) * F + f] += value }
            add(0, 0, k0.0); add(1, 0, k0.1); add(2, 0, k0.2)
            add(0, 1, k1.0); add(1, 1, k1.1); add(2, 1, k1.2)
            add(0, 2, k2.0); add(1, 2, k2.1); add(2, 2, k2.2)
        }
    }
}

import Kernels
import Tensor

/// Where one worker's Winograd data lives in the layer's "winograd" buffer, and how many tiles
/// it transforms at once (a block whose tiles and products stay in L2 between the transforms and
/// the 16 GEMMs). Sized for the larger channel count, so forward (C → F) and the input gradient
/// (F → C) share it:
///   u [16][C][F] transformed filters · du [16][C][F] their gradient · v [block][16][max] tiles ·
///   m [block][16][max] products · max zeros (the padding's reads).
struct WinogradScratch {
    /// Floats of tiles and products (v and m together) per block: 2 MB (blocks of 64 to 2048 tiles
    /// measured within 5 % of each other on the seed model's layers, 32 slower).
    static let blockBudget = 1 << 19
    let widest: Int, plane: Int, block: Int

    /// The layout for sizing: blocks of `blockBudget`, or of every tile of a worker's share of
    /// the batch if that is fewer.
    init(_ g: Window2D, filters: Int, capacity: Int, workers: Int) {
        let widest = max(g.channels, filters)
        let share = (capacity + workers - 1) / workers * winogradTiles(g)
        self.init(g, filters: filters, block: min(max(8, WinogradScratch.blockBudget / (2 * 16 * widest)), share))
    }

    /// The layout of a buffer sized as above, from its floats per worker.
    init(_ g: Window2D, filters: Int, perWorker: Int) {
        let widest = max(g.channels, filters)
        self.init(g, filters: filters, block: (perWorker - 2 * 16 * g.channels * filters - widest) / (2 * 16 * widest))
    }

    private init(_ g: Window2D, filters: Int, block: Int) {
        widest = max(g.channels, filters)
        plane = 16 * g.channels * filters
        self.block = max(1, block)
    }

    var floats: Int { 2 * plane + 2 * 16 * block * widest + widest }

    func pointers(_ base: UnsafeMutablePointer<Float>, worker: Int) -> WinogradSpace {
        let u = base + worker * floats
        let du = u + plane, v = du + plane, m = v + 16 * block * widest
        let zeros = m + 16 * block * widest
        zeros.update(repeating: 0, count: widest)
        return WinogradSpace(u: u, du: du, v: v, m: m, zeros: zeros)
    }
}

struct WinogradSpace {
    let u: UnsafeMutablePointer<Float>, du: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>
    let m: UnsafeMutablePointer<Float>, zeros: UnsafeMutablePointer<Float>
}

/// Examples through F(2×2, 3×3), a block of tiles at a time: transform the input tiles, 16
/// GEMMs against the transformed filters already in `space.u`, transform back into `out`
/// (overwriting, or adding).
func winograd(
    _ input: UnsafePointer<Float>, _ g: Window2D, inputChannels: Int, outputChannels: Int, examples: Range<Int>, block: Int,
    _ space: WinogradSpace, _ compute: ComputeEngine, worker: Int, accumulate: Bool, _ out: UnsafeMutablePointer<Float>
) {
    let perImage = winogradTiles(g)
    var first = examples.lowerBound * perImage
    let end = examples.upperBound * perImage
    while first < end {
        let tiles = min(block, end - first)
        winogradInputTransform(input, g, firstTile: first, count: tiles, zeros: space.zeros, space.v, level: compute.level)
        for xi in 0 ..< 16 {
            compute.gemm(
                worker: worker, m: tiles, n: outputChannels, k: inputChannels, space.v + xi * inputChannels, lda: 16 * inputChannels,
                space.u + xi * inputChannels * outputChannels, ldb: outputChannels, beta: 0, space.m + xi * outputChannels, ldc: 16 * outputChannels)
        }
        winogradOutputTransform(space.m, g, filters: outputChannels, firstTile: first, count: tiles, accumulate: accumulate, out, level: compute.level)
        first += tiles
    }
}

/// dW += the weight gradient of examples' tiles by Winograd, a block at a time: V = Bᵀ d B of x,
/// dM = A dY Aᵀ, dU_ξ += V_ξᵀ · dM_ξ (16 GEMMs summing over tiles), and at the end
/// dW += Gᵀ dU G.
func winogradWeightGradient(
    _ x: UnsafePointer<Float>, _ dY: UnsafePointer<Float>, _ g: Window2D, filters F: Int, examples: Range<Int>, block: Int,
    _ space: WinogradSpace, _ compute: ComputeEngine, worker: Int, _ dW: UnsafeMutablePointer<Float>
) {
    let C = g.channels, perImage = winogradTiles(g)
    var first = examples.lowerBound * perImage
    let end = examples.upperBound * perImage
    var firstBlock = true
    while first < end {
        let tiles = min(block, end - first)
        winogradInputTransform(x, g, firstTile: first, count: tiles, zeros: space.zeros, space.v, level: compute.level)
        winogradOutputAdjoint(dY, g, filters: F, firstTile: first, count: tiles, zeros: space.zeros, space.m, level: compute.level)
        for xi in 0 ..< 16 {
            compute.gemm(
                worker: worker, transposeA: true, m: C, n: F, k: tiles, space.v + xi * C, lda: 16 * C,
                space.m + xi * F, ldb: 16 * F, beta: firstBlock ? 0 : 1, space.du + xi * C * F, ldc: F)
        }
        firstBlock = false
        first += tiles
    }
    if !firstBlock { winogradFilterGradient(space.du, channels: C, filters: F, dW) }
}

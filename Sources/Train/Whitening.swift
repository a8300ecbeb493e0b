import Datasets
import Foundation
import Kernels
import Layers
import Plan
import Tensor

/// Sets every `init: whiten` convolution from the training images, before the first step (as
/// airbench does): its patches' second-moment matrix Σ = PᵀP / rows (P: one row per patch, as
/// im2col lays it out, no mean subtracted) has eigenpairs (λ_i, v_i), largest first; filter i is
/// v_i / √(λ_i + ε) and filter d + i its negative (d = k·k·C, ε = 5·10⁻⁴). The first d filters'
/// responses then have second moment λ_i / (λ_i + ε) ≈ 1 and are uncorrelated.
enum Whitening {
    static let epsilon = 5e-4

    /// Patches from the first `limit` images of `data` (airbench: 5,000).
    static func apply(plan: Plan, data: Dataset, limit: Int = 5000) {
        for (index, node) in plan.graph.nodes.enumerated() {
            guard let conv = node.layer as? Conv, conv.initializer == .whiten, let entry = plan.parameterTable.first(where: { $0.node == index })
            else { continue }
            let input = node.inputShapes[0]
            let g = Window2D(inputHeight: input[0], inputWidth: input[1], channels: input[2], kernel: conv.kernel, stride: conv.stride, padding: conv.padding)
            let d = g.patchSize
            let (values, vectors) = symmetricEigen(secondMoment(data, g, images: min(limit, data.count)), n: d)
            let weight = plan.view(of: entry)  // [patch, filters] (HWIO)
            for i in 0 ..< d {
                let scale = 1 / (max(values[i], 0) + epsilon).squareRoot()
                for p in 0 ..< d {
                    weight[p * 2 * d + i] = Float(vectors[i][p] * scale)
                    weight[p * 2 * d + d + i] = -Float(vectors[i][p] * scale)
                }
            }
        }
    }

    /// Σ = PᵀP / rows over every patch of the first `images` images, in Double.
    static func secondMoment(_ data: Dataset, _ g: Window2D, images: Int) -> [Double] {
        let d = g.patchSize, chunk = 64
        var sum = [Double](repeating: 0, count: d * d)
        var columns = [Float](repeating: 0, count: chunk * g.outputPixels * d)
        var rows = 0
        // The images a chunk at a time, as the network sees them (decoded, normalised).
        var pixels = [Float](repeating: 0, count: chunk * data.shape.count)
        var first = 0
        while first < images {
            let count = min(chunk, images - first)
            pixels.withUnsafeMutableBufferPointer { data.copyExamples(first, count: count, into: $0.baseAddress!) }
            pixels.withUnsafeBufferPointer { source in
                columns.withUnsafeMutableBufferPointer { im2col(source.baseAddress!, g, first: 0, count: count, $0.baseAddress!) }
            }
            for r in 0 ..< count * g.outputPixels {
                for i in 0 ..< d {
                    let a = Double(columns[r * d + i])
                    for j in i ..< d { sum[i * d + j] += a * Double(columns[r * d + j]) }
                }
            }
            rows += count * g.outputPixels
            first += count
        }
        for i in 0 ..< d { for j in i ..< d { sum[i * d + j] /= Double(max(rows, 1)); sum[j * d + i] = sum[i * d + j] } }
        return sum
    }
}

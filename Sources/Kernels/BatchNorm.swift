import Foundation
import Tensor

// R = rows (examples × pixels), C = channels. x, y are [R, C]; statistics are per channel.
// `stride` (default C) is the distance between rows: a caller hands each worker a block of
// channels (pointers advanced to its first channel, C its count, stride the full width), and
// since every channel's sums run over the rows in the same order, the split changes nothing.

/// Batch normalisation in training mode:
///   μ_c = mean_r x[r, c],  σ²_c = mean_r (x[r, c] − μ_c)²,  x̂ = (x − μ) / √(σ² + ε)
///   y = γ · x̂ + β
/// Saves μ and 1/√(σ² + ε) for backward; moves the running statistics towards the batch's:
///   running = momentum · running + (1 − momentum) · batch  (variance unbiased: × R / (R − 1)).
public func batchNormTrainForward(
    _ x: UnsafePointer<Float>, rows R: Int, channels C: Int, stride: Int? = nil,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float, momentum: Float,
    runningMean: UnsafeMutablePointer<Float>, runningVariance: UnsafeMutablePointer<Float>,
    savedMean: UnsafeMutablePointer<Float>, savedInverseStd: UnsafeMutablePointer<Float>,
    _ y: UnsafeMutablePointer<Float>
) {
    let S = stride ?? C
    for c in 0 ..< C { savedMean[c] = 0; savedInverseStd[c] = 0 }
    for r in 0 ..< R {
        let row = x + r * S
        for c in 0 ..< C { savedMean[c] += row[c] }
    }
    let inverseRows = 1 / Float(R)
    for c in 0 ..< C { savedMean[c] *= inverseRows }
    for r in 0 ..< R {
        let row = x + r * S
        for c in 0 ..< C { let d = row[c] - savedMean[c]; savedInverseStd[c] += d * d }
    }
    for c in 0 ..< C {
        let variance = savedInverseStd[c] * inverseRows
        let unbiased = R > 1 ? variance * Float(R) / Float(R - 1) : variance
        runningMean[c] = momentum * runningMean[c] + (1 - momentum) * savedMean[c]
        runningVariance[c] = momentum * runningVariance[c] + (1 - momentum) * unbiased
        savedInverseStd[c] = 1 / (variance + epsilon).squareRoot()
    }
    for r in 0 ..< R {
        let row = x + r * S, out = y + r * S
        for c in 0 ..< C { out[c] = gamma[c] * (row[c] - savedMean[c]) * savedInverseStd[c] + beta[c] }
    }
}

/// Batch normalisation in inference mode: the running statistics stand in for the batch's.
public func batchNormInferenceForward(
    _ x: UnsafePointer<Float>, rows R: Int, channels C: Int, stride: Int? = nil,
    gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>, epsilon: Float,
    runningMean: UnsafePointer<Float>, runningVariance: UnsafePointer<Float>,
    _ y: UnsafeMutablePointer<Float>
) {
    let S = stride ?? C
    for r in 0 ..< R {
        let row = x + r * S, out = y + r * S
        for c in 0 ..< C {
            out[c] = gamma[c] * (row[c] - runningMean[c]) / (runningVariance[c] + epsilon).squareRoot() + beta[c]
        }
    }
}

/// Batch normalisation backward (training mode), with x̂ recomputed from x and the saved μ, 1/σ:
///   dβ += Σ_r dy,  dγ += Σ_r dy · x̂
///   dx += γ/σ · (dy − mean_r dy − x̂ · mean_r(dy · x̂))
/// `scratch` holds 2·C floats (a worker's block: its own 2·C). Without `dx` (batchnorm on the network's input) only dβ and dγ.
public func batchNormBackward(
    _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, rows R: Int, channels C: Int, stride: Int? = nil,
    gamma: UnsafePointer<Float>, savedMean: UnsafePointer<Float>, savedInverseStd: UnsafePointer<Float>,
    dGamma: UnsafeMutablePointer<Float>, dBeta: UnsafeMutablePointer<Float>,
    scratch: UnsafeMutablePointer<Float>, _ dx: UnsafeMutablePointer<Float>?
) {
    let S = stride ?? C
    let sumDy = scratch, sumDyXhat = scratch + C
    for c in 0 ..< C { sumDy[c] = 0; sumDyXhat[c] = 0 }
    for r in 0 ..< R {
        let row = x + r * S, grad = dy + r * S
        for c in 0 ..< C {
            sumDy[c] += grad[c]
            sumDyXhat[c] += grad[c] * (row[c] - savedMean[c]) * savedInverseStd[c]
        }
    }
    for c in 0 ..< C { dBeta[c] += sumDy[c]; dGamma[c] += sumDyXhat[c] }
    guard let dx else { return }  // the network's input: its parameters still learn
    let inverseRows = 1 / Float(R)
    for r in 0 ..< R {
        let row = x + r * S, grad = dy + r * S, out = dx + r * S
        for c in 0 ..< C {
            let xhat = (row[c] - savedMean[c]) * savedInverseStd[c]
            out[c] += gamma[c] * savedInverseStd[c] * (grad[c] - sumDy[c] * inverseRows - xhat * sumDyXhat[c] * inverseRows)
        }
    }
}

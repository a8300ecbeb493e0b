import Foundation
import Tensor

// N = examples, K = classes. logits is [N, K]; labels holds N class indices.

/// What one batch's loss pass reports.
public struct LossResult: Sendable {
    /// Σ over examples of −log softmax(logits)[label] (divide by N for the mean).
    public var lossSum: Double
    /// Examples whose largest logit is the label (ties: the first largest).
    public var correct: Int
    public init(lossSum: Double, correct: Int) { self.lossSum = lossSum; self.correct = correct }
}

/// The index of the largest of `count` values (ties: the first), the predicted class of a row
/// of logits.
@inlinable
public func argmax(_ row: UnsafePointer<Float>, count: Int) -> Int {
    var best = 0
    for k in 1 ..< max(count, 1) where row[k] > row[best] { best = k }
    return best
}

/// Softmax cross-entropy, mean over the batch.
///   p = softmax(z) = exp(z − max z) / Σ exp(z − max z),  loss = −(1/N) Σ_n log p[n, label_n]
///   dz = (p − onehot(label)) / N  (written when `dLogits` is given; overwritten, not added)
/// With label smoothing ε the target is (1 − ε)·onehot + ε/K.
public func softmaxCrossEntropy(
    _ logits: UnsafePointer<Float>, labels: UnsafePointer<Int32>, batch N: Int, classes K: Int,
    labelSmoothing: Float = 0, _ dLogits: UnsafeMutablePointer<Float>?
) -> LossResult {
    var lossSum = 0.0
    var correct = 0
    let offTarget = labelSmoothing / Float(K), onTarget = 1 - labelSmoothing + offTarget
    for n in 0 ..< N {
        let z = logits + n * K
        let label = Int(labels[n])
        let predicted = argmax(z, count: K), maxValue = z[predicted]
        if predicted == label { correct += 1 }
        var sum: Float = 0
        for k in 0 ..< K { sum += expf(z[k] - maxValue) }
        let logSum = logf(sum)
        // −Σ_k target_k · log p_k, with log p_k = z_k − max − log Σ.
        var loss: Float = 0
        for k in 0 ..< K {
            let target = k == label ? onTarget : offTarget
            if target != 0 { loss -= target * (z[k] - maxValue - logSum) }
        }
        lossSum += Double(loss)
        if let dLogits {
            let dz = dLogits + n * K
            let scale = 1 / Float(N)
            for k in 0 ..< K {
                let p = expf(z[k] - maxValue) / sum
                dz[k] = (p - (k == label ? onTarget : offTarget)) * scale
            }
        }
    }
    return LossResult(lossSum: lossSum, correct: correct)
}

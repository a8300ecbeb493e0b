import Foundation
import Tensor

// P = parameters in the range being updated. w, g and the state vectors are length P.

/// SGD with momentum μ, optional Nesterov, and L2 weight decay λ (PyTorch's formulation):
///   g' = g + λ·w;  v = μ·v + g';  w −= lr · (Nesterov ? g' + μ·v : v)
/// With μ = 0 the velocity is unused (plain SGD).
public func sgdUpdate(
    _ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>, velocity v: UnsafeMutablePointer<Float>, count P: Int,
    learningRate lr: Float, momentum mu: Float, nesterov: Bool, weightDecay lambda: Float
) {
    for i in 0 ..< P {
        let grad = g[i] + lambda * w[i]
        if mu == 0 {
            w[i] -= lr * grad
        } else {
            v[i] = mu * v[i] + grad
            w[i] -= lr * (nesterov ? grad + mu * v[i] : v[i])
        }
    }
}

/// Adam (Kingma & Ba) at step t ≥ 1, with bias correction folded into the step size:
///   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²
///   w −= lr·√(1−β2^t)/(1−β1^t) · m / (√v + ε̂),  ε̂ = ε·√(1−β2^t)
/// (this is algebraically Adam's m̂ / (√v̂ + ε)). Weight decay λ is coupled (added to g, as
/// L2) or decoupled (AdamW: w −= lr·λ·w, before the Adam step).
public func adamUpdate(
    _ w: UnsafeMutablePointer<Float>, _ g: UnsafePointer<Float>,
    m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, count P: Int,
    learningRate lr: Float, beta1: Float, beta2: Float, epsilon: Float, step t: Int,
    weightDecay lambda: Float, decoupled: Bool
) {
    let correction1 = 1 - pow(Double(beta1), Double(t))
    let correction2 = 1 - pow(Double(beta2), Double(t))
    let stepSize = Float(Double(lr) * correction2.squareRoot() / correction1)
    let epsilonHat = Float(Double(epsilon) * correction2.squareRoot())
    let coupled: Float = decoupled ? 0 : lambda
    let shrink: Float = decoupled ? 1 - lr * lambda : 1
    for i in 0 ..< P {
        let grad = g[i] + coupled * w[i]
        m[i] = beta1 * m[i] + (1 - beta1) * grad
        v[i] = beta2 * v[i] + (1 - beta2) * grad * grad
        w[i] = w[i] * shrink - stepSize * m[i] / (v[i].squareRoot() + epsilonHat)
    }
}

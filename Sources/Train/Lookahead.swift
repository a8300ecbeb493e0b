import Foundation
import Plan
import Spec
import Tensor

/// Lookahead / an exponential moving average of the weights, as airbench trains (its
/// `LookaheadState`): every `every` optimizer steps,
///   ema ← d · ema + (1 − d) · w,   then   w ← ema,
/// with d = decay^every · (t / T)^power at step t of T: no averaging at first (the weights run
/// free), heavier towards the end. After the last step w ← ema. The batchnorm running
/// statistics are averaged the same way. Its state (the averages) is saved in checkpoints
/// (`lookahead/<parameter>`), so a resumed run continues exactly.
public final class Lookahead {
    public let spec: LookaheadSpec
    /// Optimizer steps in the whole run (epochs × steps per epoch).
    public let totalSteps: Int
    /// The averages, parallel to the plan's parameter and state arenas.
    var parameters: [Float]
    var state: [Float]

    init(_ spec: LookaheadSpec, plan: Plan, totalSteps: Int) {
        self.spec = spec
        self.totalSteps = max(totalSteps, 1)
        parameters = Array(plan.parameters)
        state = Array(plan.state)
    }

    /// After optimizer step `step` (1-based): the periodic average, and at the last step the
    /// final copy of the averages into the weights.
    func afterStep(_ step: Int, plan: Plan) {
        if step % spec.every == 0 {
            let progress = Double(step) / Double(totalSteps)
            average(plan, decay: Float(pow(spec.decay, Double(spec.every)) * pow(progress, spec.power)))
        }
        if step == totalSteps && step >= spec.every { average(plan, decay: 1) }
    }

    /// ema ← d · ema + (1 − d) · w, then w ← ema, for the parameters and the state.
    func average(_ plan: Plan, decay: Float) {
        func blend(_ ema: inout [Float], _ w: FloatBuffer) {
            ema.withUnsafeMutableBufferPointer { ema in
                for i in 0 ..< ema.count {
                    ema[i] = decay * ema[i] + (1 - decay) * w[i]
                    w[i] = ema[i]
                }
            }
        }
        blend(&parameters, plan.parameters)
        blend(&state, plan.state)
    }

    /// Puts back averages read from a checkpoint.
    func restore(_ entry: ParameterSlot, _ values: [Float]) {
        if entry.spec.trainable {
            parameters.replaceSubrange(entry.offset ..< entry.offset + entry.spec.count, with: values)
        } else {
            state.replaceSubrange(entry.offset ..< entry.offset + entry.spec.count, with: values)
        }
    }
}

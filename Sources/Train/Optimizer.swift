import Kernels
import Plan
import Spec
import Tensor

/// Updates a plan's parameters from its gradients. Its state (Adam's moments, SGD's velocity)
/// lies in flat arrays parallel to the parameter arena, so an update is one pass over
/// contiguous memory per run of parameters that share a weight-decay setting.
public final class Optimizer {
    public let spec: OptimizerSpec
    /// Adam: first and second moments. SGD: velocity in `first`, `second` empty.
    public private(set) var first: [Float]
    public private(set) var second: [Float]
    /// Updates done so far (Adam's t).
    public private(set) var step: Int = 0
    /// Contiguous runs of the parameter arena that share their settings: the weight decay that
    /// applies (by default 0 for biases and normalisation parameters, 1 for weights; a group's
    /// `weight_decay_scale` where it sets one), the
    /// learning-rate multiplier, and the epochs they train for (nil: all).
    struct Run: Sendable {
        var offset: Int, count: Int
        var weightDecayScale: Double, learningRateScale: Double, epochs: Int?
    }
    let ranges: [Run]

    /// Weight averaging after the updates (`train.lookahead`), or nil.
    public let lookahead: Lookahead?

    /// `groups` (the spec's `train.groups`): the first that matches a parameter's name sets its
    /// multipliers and epochs. `lookahead` averages the weights (over `totalSteps` steps).
    public init(_ spec: OptimizerSpec, plan: Plan, groups: [ParameterGroup] = [], lookahead: LookaheadSpec? = nil, totalSteps: Int = 1) {
        self.spec = spec
        self.lookahead = lookahead.map { Lookahead($0, plan: plan, totalSteps: totalSteps) }
        let count = plan.parameters.count
        first = [Float](repeating: 0, count: count)
        second = spec.stateTensors == 2 ? [Float](repeating: 0, count: count) : []
        var ranges: [Run] = []
        for entry in plan.parameterTable where entry.spec.trainable {
            let group = groups.first { $0.matches(entry.name) }
            let run = Run(
                offset: entry.offset, count: entry.spec.count, weightDecayScale: group?.weightDecayScale ?? (entry.spec.decays ? 1 : 0),
                learningRateScale: group?.learningRateScale ?? 1, epochs: group?.epochs)
            if let last = ranges.last, last.weightDecayScale == run.weightDecayScale, last.learningRateScale == run.learningRateScale,
                last.epochs == run.epochs, last.offset + last.count == run.offset
            {
                ranges[ranges.count - 1].count += run.count
            } else {
                ranges.append(run)
            }
        }
        self.ranges = ranges
    }

    /// Puts back state saved in a checkpoint.
    public func restore(first: [Float], second: [Float], step: Int) {
        precondition(first.count == self.first.count && second.count == self.second.count, "optimizer state of the wrong size")
        self.first = first
        self.second = second
        self.step = step
    }

    /// One update with the given learning rate during `epoch` (0-based; parameters whose group
    /// trains fewer epochs are left alone). Each worker of the plan updates its share of every
    /// range (the update is elementwise, so the split does not change the result).
    public func update(_ plan: Plan, learningRate: Double, epoch: Int = 0) {
        step += 1
        let w = plan.parameters.baseAddress!, g = UnsafePointer(plan.gradients.baseAddress!)
        first.withUnsafeMutableBufferPointer { m in
            second.withUnsafeMutableBufferPointer { v in
                plan.context.compute.pool.run(
                    Update(
                        w: w, g: g, m: m.baseAddress!, v: v.baseAddress, ranges: ranges, spec: spec,
                        step: step, learningRate: learningRate, epoch: epoch))
            }
        }
        lookahead?.afterStep(step, plan: plan)
    }

    /// One worker's share of every range.
    struct Update: ParallelWork {
        let w: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>?
        let ranges: [Run], spec: OptimizerSpec, step: Int, learningRate: Double, epoch: Int

        func run(worker: Int, of workers: Int) {
            for range in ranges where range.epochs.map({ epoch < $0 }) ?? true {
                let share = WorkerPool.share(of: worker, workers: workers, total: range.count)
                let o = range.offset + share.lowerBound
                let learningRate = Float(learningRate * range.learningRateScale)
                switch spec {
                case let .sgd(_, momentum, nesterov, weightDecay):
                    sgdUpdate(
                        w + o, g + o, velocity: m + o, count: share.count, learningRate: learningRate,
                        momentum: Float(momentum), nesterov: nesterov, weightDecay: Float(weightDecay * range.weightDecayScale))
                case let .adam(_, beta1, beta2, epsilon, weightDecay, decoupled):
                    adamUpdate(
                        w + o, g + o, m: m + o, v: v! + o, count: share.count,
                        learningRate: learningRate, beta1: Float(beta1), beta2: Float(beta2), epsilon: Float(epsilon),
                        step: step, weightDecay: Float(weightDecay * range.weightDecayScale), decoupled: decoupled)
                }
            }
        }
    }
}

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
    /// Contiguous ranges of the parameter arena and whether weight decay applies to each.
    let ranges: [(offset: Int, count: Int, decays: Bool)]

    public init(_ spec: OptimizerSpec, plan: Plan) {
        self.spec = spec
        let count = plan.parameters.count
        first = [Float](repeating: 0, count: count)
        second = spec.stateTensors == 2 ? [Float](repeating: 0, count: count) : []
        var ranges: [(offset: Int, count: Int, decays: Bool)] = []
        for entry in plan.parameterTable where entry.spec.trainable {
            if let last = ranges.last, last.decays == entry.spec.decays, last.offset + last.count == entry.offset {
                ranges[ranges.count - 1].count += entry.spec.count
            } else {
                ranges.append((entry.offset, entry.spec.count, entry.spec.decays))
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

    /// One update with the given learning rate. Each worker of the plan updates its share of
    /// every range (the update is elementwise, so the split does not change the result).
    public func update(_ plan: Plan, learningRate: Double) {
        step += 1
        let w = plan.parameters.baseAddress!, g = UnsafePointer(plan.gradients.baseAddress!)
        first.withUnsafeMutableBufferPointer { m in
            second.withUnsafeMutableBufferPointer { v in
                plan.context.compute.pool.run(
                    Update(
                        w: w, g: g, m: m.baseAddress!, v: v.baseAddress, ranges: ranges, spec: spec,
                        step: step, learningRate: learningRate))
            }
        }
    }

    /// One worker's share of every range.
    struct Update: ParallelWork {
        let w: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>?
        let ranges: [(offset: Int, count: Int, decays: Bool)], spec: OptimizerSpec, step: Int, learningRate: Double

        func run(worker: Int, of workers: Int) {
            for range in ranges {
                let share = WorkerPool.share(of: worker, workers: workers, total: range.count)
                let o = range.offset + share.lowerBound
                switch spec {
                case let .sgd(_, momentum, nesterov, weightDecay):
                    sgdUpdate(
                        w + o, g + o, velocity: m + o, count: share.count, learningRate: Float(learningRate),
                        momentum: Float(momentum), nesterov: nesterov, weightDecay: range.decays ? Float(weightDecay) : 0)
                case let .adam(_, beta1, beta2, epsilon, weightDecay, decoupled):
                    adamUpdate(
                        w + o, g + o, m: m + o, v: v! + o, count: share.count,
                        learningRate: Float(learningRate), beta1: Float(beta1), beta2: Float(beta2), epsilon: Float(epsilon),
                        step: step, weightDecay: range.decays ? Float(weightDecay) : 0, decoupled: decoupled)
                }
            }
        }
    }
}

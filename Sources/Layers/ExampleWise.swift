import Kernels

/// A layer whose forward and backward treat each example on its own (activations, pooling,
/// reshapes, joins): it writes them for a range of examples, and the batch is shared between
/// the workers for it, each worker its contiguous share. Most kinds are of this sort; the
/// others (conv, dense, dropout, batchnorm) share their work their own way, as their files say.
public protocol ExampleWise: Layer {
    /// `forward` for the examples `examples` of the batch (the same contract as `forward`).
    func forward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext)
    /// `backward` for the examples `examples` of the batch.
    func backward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext)
}

extension ExampleWise {
    public func forward(_ io: LayerIO, _ context: StepContext) {
        context.compute.pool.run(ExampleShares(layer: self, io: io, context: context, backward: false))
    }

    public func backward(_ io: LayerIO, _ context: StepContext) {
        context.compute.pool.run(ExampleShares(layer: self, io: io, context: context, backward: true))
    }
}

/// One worker's share of the batch through an example-wise layer.
struct ExampleShares<Kind: ExampleWise>: ParallelShares {
    let layer: Kind, io: LayerIO, context: StepContext, backward: Bool
    var total: Int { context.batch }

    func run(worker: Int, share examples: Range<Int>) {
        if backward { layer.backward(io, examples: examples, context) } else { layer.forward(io, examples: examples, context) }
    }
}

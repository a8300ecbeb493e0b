import Foundation
import Graph
import Kernels
import Layers
import Tensor

/// A graph compiled for a batch capacity: every buffer has its place, allocated once.
///
/// Steps are numbered: forward of node i is step i (n nodes), the loss is step n, backward of
/// node i is step 2n − i. Parameters and their gradients each live in one flat arena (an
/// optimizer update is one loop); non-trainable state (batchnorm statistics) in a third;
/// activations, gradients of activations, saved and scratch buffers share one arena, packed by
/// liveness. After `init`, running steps allocates nothing.
public final class Plan {
    public let graph: Graph
    /// The most examples a step can take; a shorter batch uses a prefix of every buffer.
    public let capacity: Int
    /// Whether gradients, saved buffers and backward scratch exist (false: inference only).
    public let trainable: Bool

    /// Trainable parameters, flat; `gradients` matches it element for element.
    public let parameters: FloatBuffer
    public let gradients: FloatBuffer
    /// Non-trainable state (running statistics), flat.
    public let state: FloatBuffer
    /// Where each parameter tensor lives.
    public let parameterTable: [ParameterSlot]
    /// The activation arena and what lives in it.
    public let arena: FloatBuffer
    public let slots: [Slot]

    /// Examples go here (NHWC, capacity × input shape) and labels here, before a step.
    public let input: FloatBuffer
    public let labels: UnsafeMutableBufferPointer<Int32>
    /// The last layer's output after `forward`.
    public let logits: FloatBuffer
    public let dLogits: FloatBuffer?

    /// Batch size, mode and dropout stream of the current step.
    public let context: StepContext

    /// When true, `forward` and `backward` add each layer's wall time here (for `runner bench`).
    public var profiling = false
    public private(set) var forwardSeconds: [Double]
    public private(set) var backwardSeconds: [Double]

    let layers: [any Layer]
    let forwardIO: [LayerIO]
    let backwardIO: [LayerIO]
    /// Activation gradients to clear right before node i's backward (first writer is +=).
    let clearBeforeBackward: [[FloatBuffer]]

    /// Sum of every slot's size: what the arena would need without reuse.
    public var naiveArenaCount: Int { slots.reduce(0) { $0 + $1.count } }

    /// `workers` threads run each step (the caller is one of them); matrix products use
    /// `precision`, which must be available on this machine.
    public init(graph: Graph, capacity: Int, trainable: Bool = true, seed: UInt64 = 0, workers: Int = 1, precision: Precision = .fp32) {
        precondition(capacity > 0, "plan capacity must be positive")
        let compute = ComputeEngine(workers: workers, precision: precision)
        self.graph = graph
        self.capacity = capacity
        self.trainable = trainable
        let n = graph.nodes.count
        let (table, parameterCount, stateCount) = Plan.parameterTable(graph)
        parameterTable = table
        parameters = Plan.allocate(parameterCount)
        gradients = Plan.allocate(trainable ? parameterCount : 0)
        state = Plan.allocate(stateCount)

        let layout = SlotLayout(graph: graph, capacity: capacity, trainable: trainable, workers: compute.workers)
        let (packed, arenaCount) = packSlots(layout.slots)
        self.slots = packed
        arena = Plan.allocate(arenaCount)
        let arena = arena
        func view(_ slot: Int) -> FloatBuffer { arena.slice(packed[slot].offset, packed[slot].count) }
        input = view(layout.input)
        labels = UnsafeMutableBufferPointer<Int32>.allocate(capacity: capacity)
        labels.initialize(repeating: 0)
        logits = view(layout.outputs[graph.output])
        dLogits = trainable ? view(layout.gradients[graph.output]!) : nil
        let (forwardIO, backwardIO, clear) = Plan.bind(
            graph, layout, view: view, table: table, parameters: parameters, gradients: gradients, state: state, trainable: trainable)
        self.forwardIO = forwardIO
        self.backwardIO = backwardIO
        self.clearBeforeBackward = clear
        layers = graph.nodes.map(\.layer)
        forwardSeconds = [Double](repeating: 0, count: n)
        backwardSeconds = [Double](repeating: 0, count: n)
        context = StepContext(batch: capacity, training: trainable, random: RandomSource(seed: seed, stream: "dropout"), compute: compute)
        initializeParameters(seed: seed)
    }

    deinit {
        for buffer in [parameters, gradients, state, arena] { buffer.deallocate() }
        labels.deallocate()
    }

    /// Every parameter tensor's place: trainable ones in one arena, state (batchnorm's running
    /// statistics) in another, in graph order.
    static func parameterTable(_ graph: Graph) -> (table: [ParameterSlot], parameters: Int, state: Int) {
        var table: [ParameterSlot] = []
        var parameterCount = 0, stateCount = 0
        for (index, node) in graph.nodes.enumerated() {
            for spec in node.parameters {
                let offset = spec.trainable ? parameterCount : stateCount
                table.append(ParameterSlot(name: "\(node.name)/\(spec.name)", node: index, spec: spec, offset: offset))
                if spec.trainable { parameterCount += spec.count } else { stateCount += spec.count }
            }
        }
        return (table, parameterCount, stateCount)
    }

    /// Each node's memory, bound once: its IO for forward and for backward (they differ in
    /// scratch), and the activation gradients to clear before each node's backward.
    static func bind(
        _ graph: Graph, _ layout: SlotLayout, view: (Int) -> FloatBuffer, table: [ParameterSlot], parameters: FloatBuffer,
        gradients: FloatBuffer, state: FloatBuffer, trainable: Bool
    ) -> (forward: [LayerIO], backward: [LayerIO], clear: [[FloatBuffer]]) {
        let n = graph.nodes.count
        var forwardIO: [LayerIO] = [], backwardIO: [LayerIO] = []
        var clear = [[FloatBuffer]](repeating: [], count: n)
        for (index, node) in graph.nodes.enumerated() {
            let inputs = node.inputs.map { source -> FloatBuffer in
                if case .node(let s) = source { return view(layout.outputs[s]) }
                return view(layout.input)
            }
            let inputGradients = node.inputs.map { source -> FloatBuffer? in
                if trainable, case .node(let s) = source { return view(layout.gradients[s]!) }
                return nil
            }
            let own = table.filter { $0.node == index }
            let parameterViews = own.map { $0.spec.trainable ? parameters.slice($0.offset, $0.spec.count) : state.slice($0.offset, $0.spec.count) }
            let gradientViews = own.map { $0.spec.trainable && trainable ? gradients.slice($0.offset, $0.spec.count) : nil }
            var io = LayerIO(
                inputShapes: node.inputShapes, outputShape: node.outputShape, inputs: inputs, output: view(layout.outputs[index]),
                parameters: parameterViews, parameterGradients: gradientViews, inputGradients: inputGradients,
                outputGradient: layout.gradients[index].map(view), buffers: layout.forwardBuffers[index].map(view))
            forwardIO.append(io)
            io.buffers = layout.backwardBuffers[index].map(view)
            backwardIO.append(io)
            // Clear d_output right before the step that first writes it, unless the loss writes it.
            if trainable && index != graph.output {
                let writer = layout.firstGradientWriter[index]
                let writerNode = 2 * n - writer  // the node whose backward runs at that step
                clear[writerNode].append(view(layout.gradients[index]!))
            }
        }
        return (forwardIO, backwardIO, clear)
    }

    static func allocate(_ count: Int) -> FloatBuffer {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        let buffer = FloatBuffer(start: raw.bindMemory(to: Float.self, capacity: max(count, 1)), count: count)
        buffer.baseAddress!.initialize(repeating: 0, count: max(count, 1))
        return buffer
    }

    /// Sets every parameter from the seed: the same seed gives the same network.
    public func initializeParameters(seed: UInt64) {
        var random = RandomSource(seed: seed, stream: "init")
        for entry in parameterTable {
            let view = entry.spec.trainable ? parameters.slice(entry.offset, entry.spec.count) : state.slice(entry.offset, entry.spec.count)
            let spec = entry.spec
            switch spec.initializer {
            case .zeros: view.fill(0)
            case .ones: view.fill(1)
            case .glorotUniform:
                let limit = Float((6.0 / Double(spec.fanIn + spec.fanOut)).squareRoot())
                for i in view.indices { view[i] = random.uniform(-limit, limit) }
            case .heUniform:
                let limit = Float((6.0 / Double(spec.fanIn)).squareRoot())
                for i in view.indices { view[i] = random.uniform(-limit, limit) }
            case .torchUniform:
                let limit = Float(1 / Double(spec.fanIn).squareRoot())
                for i in view.indices { view[i] = random.uniform(-limit, limit) }
            case .glorotNormal:
                let std = Float((2.0 / Double(spec.fanIn + spec.fanOut)).squareRoot())
                for i in view.indices { view[i] = random.normal() * std }
            case .heNormal:
                let std = Float((2.0 / Double(spec.fanIn)).squareRoot())
                for i in view.indices { view[i] = random.normal() * std }
            case .whiten:
                view.fill(0)  // set from the training data before the first step (Train's Whitening)
            case .dirac:
                let limit = Float(1 / Double(spec.fanIn).squareRoot())
                for i in view.indices { view[i] = random.uniform(-limit, limit) }
                Plan.setIdentity(view, shape: spec.shape)
            }
        }
    }

    /// Makes the first min(inputs, outputs) outputs of a weight the identity (`dirac`): HWIO
    /// [k, k, C, F] gets 1 at tap ((k−1)/2, (k−1)/2) from channel f to filter f — the centre of
    /// an odd kernel, and for an even one the tap `same` padding (0 before, 1 after) aligns — zeros
    /// elsewhere in those filters; [in, units] gets w[j, j] = 1 and zeros elsewhere in unit j.
    static func setIdentity(_ w: FloatBuffer, shape: [Int]) {
        let outputs = shape.last ?? 1, inputs = shape.count >= 2 ? shape[shape.count - 2] : 1
        let taps = shape.dropLast(2).reduce(1, *), centre = shape.count == 4 ? ((shape[0] - 1) / 2) * shape[1] + (shape[1] - 1) / 2 : 0
        for f in 0 ..< min(inputs, outputs) {
            for tap in 0 ..< taps { for c in 0 ..< inputs { w[(tap * inputs + c) * outputs + f] = 0 } }
            w[(centre * inputs + f) * outputs + f] = 1
        }
    }

    /// Runs every layer forward on the first `batch` examples of `input`.
    public func forward(batch: Int, training: Bool) {
        precondition(batch >= 1 && batch <= capacity, "batch \(batch) outside 1...\(capacity)")
        precondition(!training || trainable, "an inference plan cannot run a training step")
        context.batch = batch
        context.training = training
        for index in layers.indices {
            let start = profiling ? monotonicSeconds() : 0
            layers[index].forward(forwardIO[index], context)
            if profiling { forwardSeconds[index] += monotonicSeconds() - start }
        }
    }

    /// Softmax cross-entropy of `logits` against `labels`; when the plan trains, also writes
    /// the loss gradient into `dLogits`.
    public func loss(batch: Int, labelSmoothing: Float = 0, gradient: Bool) -> LossResult {
        softmaxCrossEntropy(
            logits.baseAddress!, labels: labels.baseAddress!, batch: batch, classes: graph.outputShape.count,
            labelSmoothing: labelSmoothing, gradient ? dLogits!.baseAddress! : nil)
    }

    /// Backpropagates `dLogits` through every layer, accumulating into `gradients`.
    /// Parameter gradients are cleared first.
    public func backward(batch: Int) {
        precondition(trainable, "an inference plan has no backward pass")
        context.batch = batch
        gradients.fill(0)
        for index in layers.indices.reversed() {
            for buffer in clearBeforeBackward[index] { buffer.prefix(count: batch * (buffer.count / capacity)).fill(0) }
            let start = profiling ? monotonicSeconds() : 0
            layers[index].backward(backwardIO[index], context)
            if profiling { backwardSeconds[index] += monotonicSeconds() - start }
        }
    }

    /// One training step's math (no optimizer): forward, loss and gradient, backward.
    public func trainStep(batch: Int, labelSmoothing: Float = 0) -> LossResult {
        forward(batch: batch, training: true)
        let result = loss(batch: batch, labelSmoothing: labelSmoothing, gradient: true)
        backward(batch: batch)
        return result
    }

    /// After a training-mode `forward`: the first node (in order) whose output holds a NaN or
    /// an infinity, for the message that stops a diverging run.
    public func firstNonFiniteOutput(batch: Int) -> Int? {
        for index in layers.indices {
            let output = forwardIO[index].output
            for i in 0 ..< batch * graph.nodes[index].outputShape.count where !output[i].isFinite { return index }
        }
        return nil
    }

    /// The first parameter tensor holding a NaN or an infinity.
    public func firstNonFiniteParameter() -> ParameterSlot? {
        parameterTable.first { entry in view(of: entry).contains { !$0.isFinite } }
    }

    public func resetProfile() {
        for i in layers.indices { forwardSeconds[i] = 0; backwardSeconds[i] = 0 }
    }

    /// The view of one named parameter (trainable or state).
    public func view(of entry: ParameterSlot) -> FloatBuffer {
        entry.spec.trainable ? parameters.slice(entry.offset, entry.spec.count) : state.slice(entry.offset, entry.spec.count)
    }
    public func gradientView(of entry: ParameterSlot) -> FloatBuffer? {
        entry.spec.trainable && trainable ? gradients.slice(entry.offset, entry.spec.count) : nil
    }
}

/// Where one parameter tensor lives: `conv1/weight` at `offset` in the parameter (or state) arena.
public struct ParameterSlot: Sendable {
    public var name: String
    public var node: Int
    public var spec: ParameterSpec
    public var offset: Int
}

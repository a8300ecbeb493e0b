import Kernels
import Tensor

/// A layer kind: its options, its shape rule, its parameters, and forward directly above
/// backward. One file per kind plus one line in `LayerRegistry`; the registry's gradient check
/// then covers it.
///
/// Shapes exclude the batch dimension. Buffers in `LayerIO` are sized for the plan's capacity;
/// a call uses the first `context.batch` examples of each.
///
/// The contract with the plan (Plan.swift lays out the arena so that it holds):
/// - **forward** writes `output` (every element of the batch: it is not cleared first) and, in
///   training, the `saved` buffers; it must not write its inputs (other layers read them too).
/// - **backward** may read its inputs, its output and its saved buffers exactly as forward left
///   them: every activation lives until its own node's backward, which runs after the backward
///   of everything that reads it. It adds (+=) into `inputGradients` (the plan clears each one
///   right before the first backward that writes it, since a fan-out sums several) and into
///   `parameterGradients` (cleared at the start of every backward pass); it may overwrite
///   `outputGradient`, which no one reads afterwards. A derivative that depends on the sign of
///   an input must read the input, not the output (a leaky ReLU's output < 0 does not tell you
///   the input was < 0 when the slope is negative).
/// - **Scratch** buffers (`BufferSpec` of role scratch) hold nothing between calls.
/// - **Threads**: `context.compute.pool.run(work)` runs a `ParallelWork` on every worker, the
///   caller being worker 0. The work is a small struct next to the layer (what the loop reads
///   and writes, and `run(worker:of:)`; `ParallelShares` splits 0 ..< total for you, e.g. the
///   batch): not a closure, because a closure handed to another thread costs an allocation per
///   call and a step allocates nothing (RegistryNetworkTests checks it at two workers for every
///   kind). Split the batch or the units, with per-worker scratch sized by `workers`, and keep
///   each worker's writes disjoint, so that results do not depend on the worker count's timing
///   (only partial sums combined in a fixed order may differ, as convolution's weight gradient
///   does between 1 and 2 workers). A kind that treats each example on its own conforms to
///   `ExampleWise` instead and writes forward and backward for a range of examples: the batch
///   is then shared out for it (relu, add, concat, flatten and the poolings do). Batchnorm's
///   statistics sum over the whole batch, so it shares out channels instead. Loops over buffers belong in
///   `Kernels` (free functions over raw pointers, with the formula in a comment); the layer file
///   wires shapes and buffers to them.
public protocol Layer: Sendable {
    /// The YAML name of the kind (`conv`, `dense`, ...).
    static var kind: String { get }
    /// One line for the spec reference.
    static var summary: String { get }
    /// The kind's options, each declared once (`LayerOption`): key, default, meaning, how it is
    /// read and how it is written back. `optionKeys`, `init(options:)` and `resolvedOptions`
    /// all come from this one list, so an option cannot be read but not written, or documented
    /// but not read.
    static var options: [LayerOption<Self>] { get }
    /// The layer before its options are read: the defaults, with placeholders for required
    /// options (`init(options:)` reads every option over it, so no placeholder survives).
    init()
    /// Checks that involve several options, after all are read (default: none).
    func validate(_ options: some OptionSource) throws
    /// Every option key the kind accepts, with its default in words, for the spec reference
    /// and for "unknown key" errors. `name` and `inputs` are accepted for every kind.
    static var optionKeys: [OptionDoc] { get }
    /// How many inputs the layer takes.
    static var inputCount: ClosedRange<Int> { get }
    /// Small configurations the registry's gradient check runs this kind on. Every kind lists
    /// at least one, so registering a kind brings its test.
    static var gradientCheckCases: [GradientCheckCase] { get }

    /// Reads `options` over `init()` (provided: from `options`).
    init(options: some OptionSource) throws

    /// The options with every default filled in, in `optionKeys` order (the resolved config).
    var resolvedOptions: [(String, OptionValue)] { get }

    func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape
    /// Trainable parameters and state (batchnorm's running statistics), in a fixed order.
    func parameters(inputs: [Shape]) -> [ParameterSpec]
    /// Buffers beyond inputs and outputs: saved for backward, or scratch within one call
    /// (`workers` threads share a call; per-worker scratch is sized for all of them).
    func buffers(inputs: [Shape], output: Shape, capacity: Int, workers: Int) -> [BufferSpec]
    /// Forward floating-point operations for one example (a multiply-add counts 2).
    func flops(inputs: [Shape], output: Shape) -> Int

    /// output = f(inputs). In training mode it may also fill `saved` buffers for backward.
    func forward(_ io: LayerIO, _ context: StepContext)
    /// inputGradients += ∂loss/∂inputs and parameterGradients += ∂loss/∂parameters, given
    /// outputGradient. May overwrite outputGradient (no one reads it afterwards).
    func backward(_ io: LayerIO, _ context: StepContext)
}

extension Layer {
    public static var options: [LayerOption<Self>] { [] }
    public func validate(_ options: some OptionSource) throws {}
    public static var optionKeys: [OptionDoc] { options.map(\.doc) }

    public init(options source: some OptionSource) throws {
        self.init()
        for option in Self.options { try option.read(&self, source) }
        try validate(source)
    }

    public var resolvedOptions: [(String, OptionValue)] { Self.options.map { ($0.doc.key, $0.written(self)) } }

    public static var inputCount: ClosedRange<Int> { 1 ... 1 }
    public func parameters(inputs: [Shape]) -> [ParameterSpec] { [] }
    public func buffers(inputs: [Shape], output: Shape, capacity: Int, workers: Int) -> [BufferSpec] { [] }
    public func flops(inputs: [Shape], output: Shape) -> Int { 0 }
}

/// Options (as YAML would spell them) and input shapes for one gradient-check run.
public struct GradientCheckCase: Sendable {
    public var options: [String: String]
    public var inputs: [Shape]
    public init(_ options: [String: String] = [:], inputs: [Shape]) { self.options = options; self.inputs = inputs }
}

/// One documented option of a layer kind.
public struct OptionDoc: Sendable {
    public var key: String
    public var defaultValue: String
    public var meaning: String
    /// The values it takes, for `runner schema` (the reader checks the same, and more).
    public var type: OptionType
    public init(_ key: String, _ defaultValue: String, _ meaning: String, type: OptionType) {
        self.key = key; self.defaultValue = defaultValue; self.meaning = meaning; self.type = type
    }
    /// Whether a spec must give it (no default).
    public var isRequired: Bool { defaultValue == "required" }
}

/// The values a layer option takes, as a JSON Schema can state them.
public enum OptionType: Sendable, Equatable {
    /// A whole number ≥ `minimum`.
    case integer(minimum: Int)
    /// A number; `below` excludes it and what is above (a rate is in [0, 1)).
    case number(minimum: Double?, below: Double?)
    case boolean
    case choice([String])
    /// One of `words`, or a whole number ≥ 0 (padding: same, valid or a count).
    case wordOrCount([String])
}

/// One option of a layer kind, declared once: its documentation (key, default in words,
/// meaning), how it is read from a spec into the layer, and how the layer writes it back to the
/// run's config.yaml. The common shapes are built by the static functions in OptionHelpers.swift
/// (`.int`, `.bool`, `.padding`, ...); an option of its own kind uses this initializer.
public struct LayerOption<Kind>: @unchecked Sendable {
    public let doc: OptionDoc
    /// Reads the option from the spec into the layer (the options before it are already read).
    public let read: (inout Kind, any OptionSource) throws -> Void
    /// The option's value as the layer holds it, for the resolved config.
    public let written: (Kind) -> OptionValue

    public init(_ doc: OptionDoc, read: @escaping (inout Kind, any OptionSource) throws -> Void, written: @escaping (Kind) -> OptionValue) {
        self.doc = doc; self.read = read; self.written = written
    }
}

/// A resolved option value, written back to the run's config.yaml.
public enum OptionValue: Sendable, Equatable {
    case int(Int), double(Double), string(String), bool(Bool)
}

/// Where layer options come from. The Spec module implements it over YAML nodes, so errors it
/// throws carry file:line:column; layers stay ignorant of YAML.
public protocol OptionSource {
    /// The integer at `key`, or `defaultValue` when absent; absent without default is an error.
    func int(_ key: String, default defaultValue: Int?) throws -> Int
    func double(_ key: String, default defaultValue: Double?) throws -> Double
    func bool(_ key: String, default defaultValue: Bool) throws -> Bool
    /// One of `allowed` (an error lists them otherwise).
    func choice(_ key: String, default defaultValue: String?, allowed: [String]) throws -> String
    /// The scalar at `key` as written (for options that take a word or a number), or nil.
    func text(_ key: String) throws -> String?
    /// An error located at `key`'s value, for checks only the layer knows.
    func invalid(_ key: String, _ message: String, hint: String) -> any Error
}

/// A layer's input shapes do not fit its rule.
public struct ShapeError: Error, Sendable, Equatable {
    public var message: String
    public var hint: String
    public init(_ message: String, hint: String = "") { self.message = message; self.hint = hint }
}

/// How a parameter tensor starts.
public enum Initializer: String, Sendable, CaseIterable {
    case zeros, ones
    /// U(−a, a), a = √(6 / (fanIn + fanOut)) — Keras's default for conv and dense.
    case glorotUniform = "glorot_uniform"
    /// N(0, 2 / (fanIn + fanOut)).
    case glorotNormal = "glorot_normal"
    /// U(−a, a), a = √(6 / fanIn) — suited to ReLU.
    case heUniform = "he_uniform"
    /// N(0, 2 / fanIn).
    case heNormal = "he_normal"
    /// U(−a, a), a = 1/√fanIn — PyTorch's default for conv and linear layers (its
    /// kaiming_uniform with a = √5), for networks written after PyTorch code.
    case torchUniform = "torch_uniform"
    /// The identity on the first min(inputs, outputs) outputs — a convolution's filter f < C
    /// is 1 at the kernel's centre ((k−1)/2: PyTorch's dirac_ for odd kernels, and the identity
    /// under `same` padding for even ones) on channel f, a dense
    /// layer's unit j < inputs reads input j — and U(−a, a), a = 1/√fanIn (PyTorch's default
    /// for conv and linear) for the other outputs. A network starts near the identity.
    case dirac
    /// Convolutions only, frozen (never trained): the eigenvectors of the covariance of the
    /// training images' patches, each scaled by 1/√(λ + 5·10⁻⁴) and taken with both signs, so
    /// the layer whitens its input (airbench's first layer). Needs 2·k·k·C filters and the
    /// network's input as its input; set from the data before the first step.
    case whiten
}

/// A parameter tensor a layer owns.
public struct ParameterSpec: Sendable {
    /// Short name within the layer: `weight`, `bias`, `gamma`, `running_mean`, ...
    public var name: String
    public var shape: [Int]
    public var initializer: Initializer
    public var fanIn: Int, fanOut: Int
    /// False for state that the optimizer must not touch (batchnorm running statistics).
    public var trainable: Bool
    /// Whether weight decay applies (weights yes; biases and normalisation parameters no).
    public var decays: Bool

    public init(_ name: String, shape: [Int], initializer: Initializer, fanIn: Int = 1, fanOut: Int = 1, trainable: Bool = true, decays: Bool = false) {
        self.name = name; self.shape = shape; self.initializer = initializer
        self.fanIn = fanIn; self.fanOut = fanOut; self.trainable = trainable; self.decays = decays
    }
    public var count: Int { shape.reduce(1, *) }
}

/// A buffer beyond a layer's inputs and output.
public struct BufferSpec: Sendable {
    public enum Role: Sendable { case saved, scratch }
    public var name: String
    public var floats: Int
    /// `saved`: written by forward in training, read by backward. `scratch`: valid within one
    /// forward or one backward call only.
    public var role: Role
    public init(_ name: String, floats: Int, role: Role) { self.name = name; self.floats = floats; self.role = role }
}

/// The memory one layer works on, fixed when the plan is built: views into the plan's arenas.
public struct LayerIO {
    public var inputShapes: [Shape]
    public var outputShape: Shape
    public var inputs: [FloatBuffer]
    public var output: FloatBuffer
    /// In `parameters(inputs:)` order; trainable ones have a gradient at the same index.
    public var parameters: [FloatBuffer]
    public var parameterGradients: [FloatBuffer?]
    /// nil where an input needs no gradient (the network's input).
    public var inputGradients: [FloatBuffer?]
    public var outputGradient: FloatBuffer?
    /// In `buffers(...)` order, saved and scratch alike.
    public var buffers: [FloatBuffer]

    public init(
        inputShapes: [Shape], outputShape: Shape, inputs: [FloatBuffer], output: FloatBuffer, parameters: [FloatBuffer], parameterGradients: [FloatBuffer?],
        inputGradients: [FloatBuffer?], outputGradient: FloatBuffer?, buffers: [FloatBuffer]
    ) {
        self.inputShapes = inputShapes; self.outputShape = outputShape; self.inputs = inputs; self.output = output
        self.parameters = parameters; self.parameterGradients = parameterGradients
        self.inputGradients = inputGradients; self.outputGradient = outputGradient; self.buffers = buffers
    }
}

/// What changes from one step to the next: the batch size, the mode and the dropout stream;
/// and the compute engine (worker threads, GEMM precision) every step runs on.
/// A class so that a step can pass it without copying or allocating.
public final class StepContext: @unchecked Sendable {
    public var batch: Int
    public var training: Bool
    public var random: RandomSource
    /// Where this batch's first example sits in the whole step's batch: nonzero on the ranks
    /// after the first of a data-parallel run, so that per-example draws (dropout's masks)
    /// are those one process would make for the same examples.
    public var firstExample = 0
    public let compute: ComputeEngine
    public init(batch: Int, training: Bool, random: RandomSource, compute: ComputeEngine = ComputeEngine(workers: 1)) {
        self.batch = batch; self.training = training; self.random = random; self.compute = compute
    }
}

/// The activation a conv or dense layer may fuse into the pass after its GEMM.
/// ReLU's backward reads the output (y > 0); GELU's needs the input, so a layer with a fused
/// GELU keeps its pre-activation output in a saved buffer (`preActivationFloats`).
public enum Activation: String, Sendable, CaseIterable {
    case linear, relu, gelu

    /// Floats of the saved pre-activation buffer for `count` outputs (0 unless GELU).
    public func preActivationFloats(_ count: Int) -> Int { self == .gelu ? count : 0 }
}

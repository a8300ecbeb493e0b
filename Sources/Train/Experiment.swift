import Datasets
import Foundation
import Graph
import Kernels
import Layers
import Spec
import Tensor

/// A spec loaded and validated, its graph built: everything `runner check` needs, no data.
public struct Experiment {
    public var spec: ExperimentSpec
    public var graph: Graph
    /// The number format the matrix products run in on this machine: the spec's `precision`,
    /// with `auto` resolved for this CPU level (checked available when the experiment loaded).
    public var precision: Precision { Precision.resolve(spec.train.precision) }

    /// Loads and validates an experiment file; every problem is a located `SpecError`.
    /// `classes`, when known (a trained run's checkpoint records them), spares reading an
    /// image_folder's class folders, which need not exist any more.
    public static func load(path: String, classes: Int? = nil) throws(SpecError) -> Experiment {
        try Experiment(spec: try ExperimentSpec.load(path: path), classes: classes)
    }

    /// Builds and checks the graph of a parsed spec.
    public init(spec: ExperimentSpec, classes knownClasses: Int? = nil) throws(SpecError) {
        let graph = try Graph(spec.model)
        let kind = spec.data.kind, options = Experiment.datasetOptions(spec)
        let shape: Shape
        if let known = kind.imageShape(options) {
            shape = known
        } else {
            // Images fitted to the model's input (an image folder): any size, 1 or 3 channels.
            shape = spec.model.input
            guard shape.rank == 3, shape[2] == 1 || shape[2] == 3 else {
                throw SpecError(
                    spec.model.inputLocation, "\(kind.name) needs an input of [height, width, 1 or 3], got \(shape)", hint: "for example input: [32, 32, 3]")
            }
        }
        let classes: Int
        if let knownClasses, kind.classesFromFiles {
            classes = knownClasses
        } else {
            do { classes = try kind.classes(options) } catch {
                throw SpecError(spec.data.rootLocation ?? spec.data.location, error.message, hint: error.hint)
            }
        }
        if case let .given(mean, _) = spec.data.normalize, mean.count != shape.dimensions.last {
            throw SpecError(
                spec.data.location, "'normalize' gives \(mean.count) channels, but \(spec.data.dataset) images have \(shape.dimensions.last ?? 1)",
                hint: "give one mean and one std per channel")
        }
        guard spec.model.input == shape else {
            throw SpecError(
                spec.model.inputLocation, "the model's input is \(spec.model.input), but \(spec.data.dataset) images are \(shape)",
                hint: "write input: [\(shape.dimensions.map(String.init).joined(separator: ", "))]")
        }
        try graph.checkClassifier(classes: classes, location: spec.location)
        let examples = kind.trainExamples(options) ?? Int.max  // else counted when read
        guard spec.data.validation < 1 || Int(spec.data.validation) < examples else {
            throw SpecError(
                spec.data.validationLocation,
                "'validation' holds out \(Int(spec.data.validation)) examples, but \(spec.data.dataset) has \(examples) to train on",
                hint: "hold out fewer, or a fraction such as validation: 0.2")
        }
        if case let precision = Precision.resolve(spec.train.precision), !precision.isAvailable {
            throw SpecError(
                spec.train.precisionLocation ?? spec.location, Experiment.unavailableMessage(precision),
                hint: "use precision: auto (bf16 where the CPU has it, fp32 elsewhere) or precision: fp32")
        }
        try Experiment.checkMemory(graph, batch: spec.train.batchSize, optimizer: spec.train.optimizer)
        // A whitening convolution learns its filters from the images themselves: it must read them.
        for (node, layer) in zip(graph.nodes, spec.model.layers) where (node.layer as? Conv)?.initializer == .whiten && node.inputs != [.networkInput] {
            throw SpecError(
                layer.location, "init: whiten needs the network's input as its input; '\(node.name)' reads another layer", hint: "make it the first layer")
        }
        if spec.data.tta != .none, shape.rank != 3 {
            throw SpecError(spec.data.location, "'tta' needs images ([height, width, channels]), but \(kind.name) gives \(shape)", hint: "remove tta")
        }
        // Each parameter group must name something: a pattern that matches nothing is a typo.
        let trainable = graph.nodes.flatMap { node in node.parameters.filter(\.trainable).map { "\(node.name)/\($0.name)" } }
        for group in spec.train.groups where !trainable.contains(where: group.matches) {
            throw SpecError(
                group.location, "the group's parameters '\(group.parameters)' match no trainable parameter",
                hint: "parameters are named layer/parameter: \(trainable.prefix(6).joined(separator: ", "))\(trainable.count > 6 ? ", ..." : "")")
        }
        self.spec = spec
        self.graph = graph
    }

    /// What the dataset kind reads: the spec's data options, its seed and the model's input.
    static func datasetOptions(_ spec: ExperimentSpec) -> DatasetOptions { spec.data.options(seed: spec.seed, input: spec.model.input) }

    /// Why `precision` cannot run here: the CPU lacks AVX512-BF16, or RUNNER_CPU lowered the level.
    public static func unavailableMessage(_ precision: Precision) -> String {
        CPU.level < CPU.detected && precision.isAvailable(at: CPU.detected)
            ? "precision \(precision.rawValue) needs AVX512-BF16, which \(CPU.variable)=\(CPU.level) turns off"
            : "precision \(precision.rawValue) needs a CPU with AVX512-BF16, which this one lacks (it has \(CPU.detected))"
    }

    /// Refuses a model whose plan could not fit in memory, before anything is allocated: an
    /// upper bound (every activation, its gradient and every buffer without reuse, parameters
    /// with gradients and optimizer state) against three quarters of physical memory.
    public static func checkMemory(_ graph: Graph, batch: Int, optimizer: OptimizerSpec) throws(SpecError) {
        // Each parameter, its gradient and the optimizer's state tensors.
        var floats = Double(graph.parameterCount) * Double(2 + optimizer.stateTensors)
        var largest = (floats: 0.0, node: graph.nodes[0])
        for node in graph.nodes {
            // Buffers at the batch itself: some grow with it (saved masks), some do not (a
            // Winograd layer's transformed filters, im2col chunks), so they are not per example.
            let buffers = node.layer.buffers(inputs: node.inputShapes, output: node.outputShape, capacity: batch, workers: 1).reduce(0) { $0 + $1.floats }
            let perNode = Double(batch) * Double(2 * node.outputShape.count) + Double(buffers) + Double(node.parameterCount) * 4
            floats += perNode
            if perNode > largest.floats { largest = (perNode, node) }
        }
        let bytes = floats * 4, limit = Double(ProcessInfo.processInfo.physicalMemory) * 0.75
        guard bytes <= limit else {
            throw SpecError(
                largest.node.location,
                String(
                    format: "the model needs up to %.1f GiB at batch %d, more than the %.1f GiB runner allows on this machine; layer '%@' alone takes %.1f GiB",
                    bytes / 1_073_741_824, batch, limit / 1_073_741_824, largest.node.name, largest.floats * 4 / 1_073_741_824),
                hint: "use fewer filters or units, or a smaller batch_size")
        }
    }

    /// Reads (or generates) the dataset and carves the seeded validation split out of the
    /// training examples. The test split is never touched here.
    public func loadData() throws(DataError) -> (train: Dataset, validation: Dataset) {
        let data = spec.data
        let seed = UInt64(bitPattern: Int64(spec.seed))
        let full = try loadSplit(.train)
        guard data.validation < Double(full.count) else {
            throw DataError(
                file: spec.file, "validation: \(data.validation) leaves no training examples out of \(full.count)", hint: "use a fraction such as 0.2")
        }
        let (train, validation) = (consume full).split(validation: data.validation, seed: seed)
        guard let normalization = normalization(train: train) else { return (train, validation) }
        return (train.normalized(by: normalization), validation.normalized(by: normalization))
    }

    /// The spec's normalisation: none, the statistics of `train` (before any normalisation),
    /// or the given numbers.
    func normalization(train: Dataset) -> Normalization? {
        switch spec.data.normalize {
        case .none: nil
        case .auto: Normalization.statistics(of: train)
        case let .given(mean, std): Normalization(mean: mean.map(Float.init), std: std.map(Float.init))
        }
    }

    /// The test split, normalised as the training split `train` was.
    public func loadTest(like train: Dataset) throws(DataError) -> Dataset {
        let test = try loadSplit(.test)
        return train.normalization.map { test.normalized(by: $0) } ?? test
    }

    /// The dataset's own split: train (before the validation split is carved out) or test.
    /// `trainClasses` are the training classes when a checkpoint recorded them (an image
    /// folder's test classes must match them, and its training folders may be gone).
    public func loadSplit(_ split: Split, trainClasses: [String]? = nil) throws(DataError) -> Dataset {
        let kind = spec.data.kind
        let options = Experiment.datasetOptions(spec)
        guard split == .train || kind.hasTestSplit(options) else {
            throw DataError(
                file: spec.file, "\(kind.name) has no \(split.rawValue) split", hint: "use --split validation (the held-out part of the training data)")
        }
        return try kind.load(split, options, trainClasses: trainClasses) { line in
            FileHandle.standardError.write(Data((line + "\n").utf8))
        }
    }
}

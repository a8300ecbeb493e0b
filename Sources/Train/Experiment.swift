import Data
import Foundation
import Graph
import Spec
import Tensor

/// A spec loaded and validated, its graph built: everything `runner check` needs, no data.
public struct Experiment {
    public var spec: ExperimentSpec
    public var graph: Graph

    /// Loads and validates an experiment file; every problem is a located `SpecError`.
    public static func load(path: String) throws(SpecError) -> Experiment {
        let spec = try ExperimentSpec.load(path: path)
        let graph = try Graph(spec.model)
        let (shape, classes) = Experiment.datasetShape(spec.data)
        guard spec.model.input == shape else {
            throw SpecError(spec.model.inputLocation, "the model's input is \(spec.model.input), but \(spec.data.dataset) images are \(shape)",
                            hint: "write input: [\(shape.dimensions.map(String.init).joined(separator: ", "))]")
        }
        try graph.checkClassifier(classes: classes, location: spec.location)
        return Experiment(spec: spec, graph: graph)
    }

    /// Image shape and class count of a dataset, known without reading it.
    public static func datasetShape(_ data: DataSpec) -> (Shape, Int) {
        switch data.dataset {
        case "xo": ([data.size, data.size, 1], 2)
        case "cifar10": (CIFAR10.shape, 10)
        default: (Digits.shape, 10)
        }
    }

    /// Reads (or generates) the dataset and carves the seeded validation split out of the
    /// training examples. The test split is never touched here.
    public func loadData() throws(DataError) -> (train: Dataset, validation: Dataset) {
        let data = spec.data
        let seed = UInt64(bitPattern: Int64(spec.seed))
        let full: Dataset
        switch data.dataset {
        case "xo": full = XO.generate(samples: data.samples, size: data.size, noise: data.noise, seed: seed)
        case "cifar10": full = try CIFAR10.load(root: data.root ?? "data/cifar10", split: "train")
        default: full = try Digits.load()
        }
        guard data.validation < Double(full.count) else {
            throw DataError(file: spec.file, "validation: \(data.validation) leaves no training examples out of \(full.count)", hint: "use a fraction such as 0.2")
        }
        return full.split(validation: data.validation, seed: seed)
    }
}

import Datasets
import Foundation
import Plan
import Spec
import Train

/// libFuzzer target: `runner predict`'s path for one image. The input is a recorded input
/// convention and an image: 2 bytes (little-endian) give the length of a JSON normalisation
/// (`{"mean": [...], "std": [...]}`, as a checkpoint's metadata holds it), the rest is the PNG
/// or JPEG file. The convention is validated against the model, the image decoded and fitted to
/// the model's input, normalised, run forward, and its probabilities must be finite.
let model = """
    name: fuzzpredict
    model:
      input: [12, 12, 3]
      layers: [{conv: {filters: 4, kernel: 3, activation: relu}}, {maxpool: {size: 2}}, {flatten: {}}, {dense: {units: 3}}]
    data: {dataset: image_folder, root: /nonexistent}
    train: {precision: fp32}
    """

nonisolated(unsafe) let fixture: (experiment: Experiment, plan: Plan) = {
    let experiment = try! Experiment(spec: ExperimentSpec(SpecNode.parse(yaml: model, file: "fuzzpredict.yaml"), directory: "/"), classes: 3)
    return (experiment, Plan(graph: experiment.graph, capacity: 1, trainable: false, seed: 1, workers: 1, precision: .fp32))
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzPredict(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    guard bytes.count >= 2 else { return 0 }
    let length = min(Int(bytes[0]) | Int(bytes[1]) << 8, bytes.count - 2)
    var file = SafeTensors()
    file.metadata["class_names"] = #"["a", "b", "c"]"#
    if length > 0 { file.metadata["normalization"] = String(decoding: bytes[2 ..< 2 + length], as: UTF8.self) }
    guard let convention = try? Checkpoints.inputConvention(file, path: "fuzz"),
        (try? Checkpoints.check(convention, against: fixture.experiment.graph, path: "fuzz")) != nil
    else { return 0 }
    let shape = fixture.experiment.graph.input
    guard let pixels = try? Images.decode(bytes.subdata(in: 2 + length ..< bytes.count), file: "fuzz", shape: shape, fit: .crop) else { return 0 }
    var example = Dataset(name: "image", shape: shape, classNames: convention.classNames, images: pixels, labels: [0])
    if let normalization = convention.normalization { example = example.normalized(by: normalization) }
    example.fill(order: [0], start: 0, count: 1, images: fixture.plan.input, labels: fixture.plan.labels)
    fixture.plan.forward(batch: 1, training: false)
    let logits = Array(fixture.plan.logits.prefix(3))
    let largest = logits.max() ?? 0
    let exponentials = logits.map { exp(Double($0 - largest)) }
    let total = exponentials.reduce(0, +)
    // Normalisation by a tiny std can make logits infinite; the probabilities must still not be NaN.
    if !largest.isFinite { return 0 }
    precondition(exponentials.allSatisfy { ($0 / total).isFinite }, "non-finite probability")
    return 0
}

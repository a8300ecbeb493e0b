import Foundation
import Plan
import Spec
import Train

/// libFuzzer target: any bytes as a checkpoint *loaded into a plan*, metadata included: decoded,
/// checked against its tensor digests, then (digests recomputed, so the fuzzer reaches past
/// them) its parameters, optimizer state and training state restored into the xo model below and
/// its input convention checked against the model. Each step must succeed or throw
/// CheckpointError; nothing may crash, hang or allocate without bound.
/// The spec is Fuzz/fuzzxo.yaml (scripts/fuzz.sh runs from the repository's root);
/// Fuzz/corpus/checkpoint-load/ holds a real checkpoint of it, which TrainTests restores.
nonisolated(unsafe) let fixture: (experiment: Experiment, plan: Plan, optimizer: Optimizer) = {
    let experiment = try! Experiment.load(path: "Fuzz/fuzzxo.yaml")
    let plan = Plan(graph: experiment.graph, capacity: 32, trainable: true, seed: 3, workers: 1, precision: .fp32)
    return (experiment, plan, Optimizer(experiment.spec.train.optimizer, plan: plan))
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpointLoad(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    let path = "fuzz.safetensors"
    guard var file = try? SafeTensors.decode(bytes, file: path) else { return 0 }
    _ = try? Checkpoints.verifyDigests(file, path: path)
    file.metadata["tensor_sha256"] = Checkpoints.digestsJSON(file)
    _ = try? Checkpoints.verifyDigests(file, path: path)
    if let convention = try? Checkpoints.inputConvention(file, path: path) {
        _ = try? Checkpoints.check(convention, against: fixture.experiment.graph, path: path)
    }
    let step = Int(file.metadata["global_step"] ?? "") ?? 0
    _ = try? Checkpoints.restore(
        file, path: path, step: step, plan: fixture.plan, optimizer: fixture.optimizer, spec: fixture.experiment.spec,
        dataFingerprint: file.metadata["data_fingerprint"] ?? "", stepsPerEpoch: 50)
    return 0
}

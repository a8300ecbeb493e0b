import Files
import Foundation
import Plan
import Spec

/// Writing a checkpoint: the tensors streamed from where they live into a durable file.
extension Checkpoints {
    static func save(
        plan: Plan, optimizer: Optimizer, state: TrainingState, spec: ExperimentSpec, dataFingerprint: String,
        input: InputConvention, to path: String
    ) throws {
        let kind: String
        switch spec.train.optimizer {
        case .sgd: kind = "sgd"
        case .adam(_, _, _, _, _, let decoupled): kind = decoupled ? "adamw" : "adam"
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let resolved = spec.resolvedYAML()
        var metadata = [
            "format": Checkpoints.format,
            "runner_version": runnerVersion,
            "experiment": spec.name,
            "spec_hash": specHash(resolved),
            "data_fingerprint": dataFingerprint,
            "epoch": String(state.epoch),
            "step_in_epoch": String(state.stepInEpoch),
            "global_step": String(state.globalStep),
            "optimizer": kind,
            // What computed this state (`auto` resolves per machine; informational).
            "precision": plan.context.compute.precision.rawValue,
            "cpu_level": plan.context.compute.level.description,
            "optimizer_step": String(state.optimizerStep),
            "learning_rate": String(
                spec.train.schedule.learningRate(base: spec.train.optimizer.learningRate, epoch: Double(state.epoch), totalEpochs: spec.train.epochs)),
            "state": String(decoding: try encoder.encode(state), as: UTF8.self),
            "class_names": String(decoding: try encoder.encode(input.classNames), as: UTF8.self),
        ]
        if let normalization = input.normalization {
            metadata["normalization"] = String(decoding: try encoder.encode(["mean": normalization.mean, "std": normalization.std]), as: UTF8.self)
        }
        // The tensors are lent where they live, digested there and streamed to the file: a
        // checkpoint is never assembled in memory (for cifar10_fast that copy was two 50 MB
        // buffers, the run's peak RSS).
        let lookahead = optimizer.lookahead
        try optimizer.first.withUnsafeBufferPointer { first throws in
            try optimizer.second.withUnsafeBufferPointer { second throws in
                try (lookahead?.parameters ?? []).withUnsafeBufferPointer { averagedParameters throws in
                    try (lookahead?.state ?? []).withUnsafeBufferPointer { averagedState throws in
                        func slice(_ buffer: UnsafeBufferPointer<Float>, _ entry: ParameterSlot) -> UnsafeBufferPointer<Float> {
                            UnsafeBufferPointer(rebasing: buffer[entry.offset ..< entry.offset + entry.spec.count])
                        }
                        var tensors = plan.parameterTable.map {
                            SafeTensors.Lent($0.name, shape: $0.spec.shape, values: UnsafeBufferPointer(plan.view(of: $0)))
                        }
                        for entry in plan.parameterTable where entry.spec.trainable {
                            let moment = "optimizer/\(kind)/\(kind == "sgd" ? "velocity" : "m")/\(entry.name)"
                            tensors.append(SafeTensors.Lent(moment, shape: entry.spec.shape, values: slice(first, entry)))
                            if !second.isEmpty {
                                tensors.append(SafeTensors.Lent("optimizer/\(kind)/v/\(entry.name)", shape: entry.spec.shape, values: slice(second, entry)))
                            }
                        }
                        if lookahead != nil {
                            for entry in plan.parameterTable {
                                let averaged = slice(entry.spec.trainable ? averagedParameters : averagedState, entry)
                                tensors.append(SafeTensors.Lent("lookahead/\(entry.name)", shape: entry.spec.shape, values: averaged))
                            }
                        }
                        var withDigests = metadata
                        withDigests["tensor_sha256"] = digestsJSON(tensors)
                        try writeDurably(to: path) { file throws(FileError) in try SafeTensors.write(tensors, metadata: withDigests, to: file) }
                    }
                }
            }
        }
    }
}

import ArgumentParser
import Datasets
import Foundation
import Train

/// A run directory (its best checkpoint, else its newest) or a checkpoint file → the run's
/// directory and the checkpoint's path; exits with a message when neither.
func resolveCheckpoint(_ target: String) -> (runDirectory: String, checkpoint: String) {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) else {
        fail("\(target) does not exist", hint: "give a run directory such as runs/digits/default, or a checkpoint file")
    }
    let runDirectory: String, checkpoint: String
    if isDirectory.boolValue {
        runDirectory = target
        let summary = RunFolder.summary(in: target)
        let folder = (target as NSString).appendingPathComponent("checkpoints")
        // summary.json is outside input too: only a checkpoint name (step-<N>.safetensors) is
        // joined to the folder, never a path.
        let best = summary?.bestCheckpoint.flatMap { Checkpoints.step(ofName: $0) == nil ? nil : (folder as NSString).appendingPathComponent($0) }
        guard let path = best ?? Checkpoints.list(target).last?.path else {
            fail("\(target) holds no checkpoint", hint: "train the run first")
        }
        checkpoint = path
    } else {
        checkpoint = target
        runDirectory = ((target as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
    }
    return (runDirectory, checkpoint)
}

/// The experiment a run was trained with (its config.yaml) and the checkpoint to use, read and
/// decoded (its recorded class names tell an image_folder run's class count without the folders).
/// The input convention it records is checked against the model (nil for older checkpoints).
func loadRun(_ target: String) throws -> (Experiment, checkpoint: String, file: SafeTensors, convention: InputConvention?) {
    let (runDirectory, checkpoint) = resolveCheckpoint(target)
    do {
        let file = try Checkpoints.read(checkpoint)
        let convention = try Checkpoints.inputConvention(file, path: checkpoint)
        let experiment = try Experiment.load(
            path: (runDirectory as NSString).appendingPathComponent("config.yaml"),
            classes: convention?.classNames.count)
        if let convention { try Checkpoints.check(convention, against: experiment.graph, path: checkpoint) }
        return (experiment, checkpoint, file, convention)
    } catch {
        printError("\(error)")
        throw ExitCode(2)
    }
}

/// Class names and normalisation as the run saw them, for a checkpoint older than their record
/// in its metadata: recomputed from the training data.
func trainingConvention(_ experiment: Experiment) throws -> InputConvention {
    let train = try experiment.loadData().train
    return InputConvention(classNames: train.classNames, normalization: train.normalization)
}

/// `--tta`'s value (eval, predict): nil when not given; exits with the message when it names
/// no set of views.
func testTimeAugmentation(_ text: String?) -> TestTimeAugmentation? {
    guard let text else { return nil }
    guard let views = TestTimeAugmentation(rawValue: text) else {
        fail("--tta must be none, flip or flip_translate, got '\(text)'", hint: "for example --tta flip")
    }
    return views
}

import ArgumentParser
import Datasets
import Foundation
import Kernels
import Plan
import Tensor
import Train

/// `runner predict RUN_OR_CHECKPOINT IMAGE...`: the most probable classes of PNG/JPEG files,
/// each image fitted to the model's input and normalised as training normalised.
struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "predict", abstract: "Classify PNG or JPEG images with a trained run.")

    @Argument(help: "A run directory (runs/NAME/RUN: its best checkpoint, else its newest) or a checkpoint file.")
    var target: String

    @Argument(help: "PNG or JPEG files.")
    var images: [String]

    @Option(help: "How many classes to print per image.")
    var top = 3

    @Option(help: "How an image of another size fits the input: stretch or crop (default: the spec's, else stretch).")
    var fit: String?

    @Option(help: "Test-time augmentation: none, flip or flip_translate (default: the spec's data.tta).")
    var tta: String?

    @Flag(help: "One JSON object per image and line (JSON Lines): every class with its probability at full precision, the checkpoint used.")
    var json = false

    func run() throws {
        let views = testTimeAugmentation(tta)
        guard !images.isEmpty else { fail("no image given", hint: "runner predict runs/NAME/default photo.png") }
        guard top >= 1 else { fail("--top must be at least 1, got \(top)", hint: "for example --top 3") }
        let (experiment, checkpoint, file, recorded) = try loadRun(target)
        guard let fitting = fit.map({ Images.Fit(rawValue: $0) }) ?? experiment.spec.data.fit else {
            fail("--fit must be stretch or crop, got '\(fit ?? "")'", hint: "for example --fit crop")
        }
        let shape = experiment.graph.input
        guard shape.rank == 3, shape[2] == 1 || shape[2] == 3 else {
            fail("the model's input \(shape) is not an image of 1 or 3 channels", hint: "predict needs a model whose input is [height, width, 1 or 3]")
        }
        let viewsUsed = views ?? experiment.spec.data.tta
        let plan = Plan(
            graph: experiment.graph, capacity: 1, trainable: false, workers: WorkerPool.defaultCount(),
            precision: experiment.precision)
        let convention: InputConvention
        do {
            try Checkpoints.copyParameters(file, path: checkpoint, into: plan)
            convention = try recorded ?? trainingConvention(experiment)
        } catch {
            printError("\(error)")
            throw ExitCode(2)
        }
        let classes = experiment.graph.outputShape.count
        guard convention.classNames.count == classes else {
            fail(
                "\(checkpoint) names \(convention.classNames.count) classes, the model has \(classes) outputs",
                hint: "use the checkpoint of a run trained with this config")
        }
        if !json { print("\(checkpoint)\(viewsUsed == .none ? "" : ", averaging \(viewsUsed.views.count) views (\(viewsUsed.rawValue))"):") }
        var failed = false
        for path in images {
            let pixels: [Float]
            do { pixels = try Images.load(path, shape: shape, fit: fitting) } catch {
                printError(error.description)
                if json { printJSON(ImageError(path: path, checkpoint: checkpoint, error: error.description)) }
                failed = true
                continue
            }
            var example = Dataset(name: "image", shape: shape, classNames: convention.classNames, images: pixels, labels: [0])
            if let normalization = convention.normalization { example = example.normalized(by: normalization) }
            example.fill(order: [0], start: 0, count: 1, images: plan.input, labels: plan.labels)
            let logits = predictedLogits(plan, views: viewsUsed, classes: classes)
            let largest = logits.max() ?? 0
            let exponentials = logits.map { exp(Double($0 - largest)) }
            let total = exponentials.reduce(0, +)
            // Most probable first; equal probabilities in label order.
            let ranked = exponentials.enumerated().sorted { $0.element > $1.element || ($0.element == $1.element && $0.offset < $1.offset) }
            if json {
                let classes = ranked.map { ClassProbability(class: convention.classNames[$0.offset], index: $0.offset, probability: $0.element / total) }
                printJSON(ImagePrediction(path: path, checkpoint: checkpoint, tta: viewsUsed.rawValue, predicted: classes[0].class, classes: classes))
                continue
            }
            let named = ranked.prefix(top).map { String(format: "%@ %.1f%%", convention.classNames[$0.offset], $0.element / total * 100) }
            print("\(path): \(named.joined(separator: ", "))")
        }
        if failed { throw ExitCode(1) }
    }

    /// The logits for the image in the plan's input: the network's, or with test-time
    /// augmentation the views' weighted sum (as eval and the test split average them).
    func predictedLogits(_ plan: Plan, views: TestTimeAugmentation, classes: Int) -> [Float] {
        guard views != .none else {
            plan.forward(batch: 1, training: false)
            return Array(plan.logits.prefix(classes))
        }
        var original = [Float](repeating: 0, count: plan.graph.input.count), logits = [Float](repeating: 0, count: classes)
        forwardAveragingViews(plan, batch: 1, views: views, original: &original, averaged: &logits)
        return logits
    }
}

/// `predict --json`'s objects, one line each.
struct ClassProbability: Encodable {
    var `class`: String
    var index: Int
    var probability: Double
}

struct ImagePrediction: Encodable {
    var path: String
    var checkpoint: String
    var tta: String
    var predicted: String
    /// Every class, most probable first.
    var classes: [ClassProbability]
}

struct ImageError: Encodable {
    var path: String
    var checkpoint: String
    var error: String
}

/// One JSON object on one line of stdout, keys sorted; numbers at full precision (the shortest
/// decimal that reads back as the same Double).
func printJSON(_ value: some Encodable) {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    guard let data = try? encoder.encode(value) else { return }
    print(String(decoding: data, as: UTF8.self))
}

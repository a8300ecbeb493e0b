import Datasets
import Foundation
import Graph
import Plan
import Spec
import Tensor
import TensorBoard
import Train

/// Writes a run's history as TensorBoard event files: hparams, the resolved config (Text) and
/// the layer graph (Graphs) in the run directory; batch and epoch scalars, histograms and
/// images in `train/` and `val/` sub-runs, so the two curves overlay in one chart (Keras's
/// layout). Every record reaches the file when written. A logging failure (a full disk) is
/// reported once and turns logging off; it never stops training.
final class TensorBoardLogger: TrainingObserver {
    let spec: ExperimentSpec
    let varied: [(String, String)]
    var root: EventWriter?, train: EventWriter?, validation: EventWriter?, test: EventWriter?
    var trainer: Trainer?
    /// What ran, for HPARAMS: the resolved precision and the CPU level (set when the run starts).
    var ran: [(String, String)] = []
    var stepsPerEpoch = 1
    var intervalStart = 0.0, intervalImages = 0
    /// Seconds spent in this logger: what logging costs the run.
    private(set) var secondsSpent = 0.0
    var failed = false

    init(spec: ExperimentSpec, varied: [(String, String)]) {
        self.spec = spec
        self.varied = varied
    }

    /// Runs `body`, timing it; the first error turns logging off with one message.
    func guarded(_ body: () throws -> Void) {
        guard !failed, root != nil || train == nil else { return }
        let start = monotonicSeconds()
        do { try body() } catch {
            failed = true
            printError("warning: TensorBoard logging stopped: \(error.localizedDescription)\nhint: training goes on; check the disk and the runs folder")
        }
        secondsSpent += monotonicSeconds() - start
    }

    func runStarted(_ run: RunInfo) {
        trainer = run.trainer
        ran = [("train.precision", run.precision), ("cpu_level", run.cpuLevel)]
        stepsPerEpoch = run.stepsPerEpoch
        intervalStart = monotonicSeconds()
        let settings = spec.tensorboard
        guarded {
            root = try EventWriter(directory: run.directory)
            train = try EventWriter(directory: (run.directory as NSString).appendingPathComponent("train"))
            validation = try EventWriter(directory: (run.directory as NSString).appendingPathComponent("val"))
            if spec.data.test != .never { test = try EventWriter(directory: (run.directory as NSString).appendingPathComponent("test")) }
            let step = run.startEpoch * run.stepsPerEpoch + run.startStep
            var values = [Summaries.sessionStart(hparams: hyperparameters(), groupName: "")]
            if settings.text {
                values.append(Summaries.text("config", "Resolved spec of `\(spec.name)/\(run.run)`:\n\n```yaml\n\(spec.resolvedYAML())```"))
            }
            try root!.write(values, step: step)
            if settings.graph {
                var event = Tensorboard_Event()
                event.wallTime = Date().timeIntervalSince1970
                event.graphDef = Summaries.graph(graphNodes(run.trainer.experiment.graph))
                try root!.write(event)
            }
            if run.startEpoch == 0 && run.startStep == 0 && settings.imagesEveryEpochs > 0 { try writeImages(step: 0) }
        }
    }

    func stepFinished(_ metrics: StepMetrics) {
        intervalImages += metrics.batchSize
        let every = spec.tensorboard.scalarsEverySteps
        guard every > 0, metrics.globalStep % every == 0, let train else { return }
        let rate = Double(intervalImages) / max(metrics.timestamp - intervalStart, 1e-9)
        intervalStart = metrics.timestamp
        intervalImages = 0
        guarded {
            try train.write(
                [
                    Summaries.scalar("batch_loss", metrics.batchLoss), Summaries.scalar("batch_accuracy", metrics.batchAccuracy),
                    Summaries.scalar("learning_rate", metrics.learningRate), Summaries.scalar("images_per_second", rate),
                ],
                step: metrics.globalStep)
        }
    }

    func epochFinished(_ metrics: EpochMetrics) {
        let step = metrics.epoch * stepsPerEpoch
        let settings = spec.tensorboard
        guarded {
            guard let train, let validation else { return }
            try train.write(
                [
                    Summaries.scalar("loss", metrics.trainLoss), Summaries.scalar("accuracy", metrics.trainAccuracy),
                    Summaries.scalar("epoch_learning_rate", metrics.learningRate), Summaries.scalar("epoch_images_per_second", metrics.imagesPerSecond),
                    Summaries.scalar("epoch_seconds", metrics.seconds),
                ], step: step)
            try validation.write([Summaries.scalar("loss", metrics.validationLoss), Summaries.scalar("accuracy", metrics.validationAccuracy)], step: step)
            if let test, let loss = metrics.testLoss, let accuracy = metrics.testAccuracy {
                try test.write([Summaries.scalar("loss", loss), Summaries.scalar("accuracy", accuracy)], step: step)
            }
            if settings.histogramsEveryEpochs > 0 && metrics.epoch % settings.histogramsEveryEpochs == 0, let plan = trainer?.plan {
                var values: [Tensorboard_Summary.Value] = []
                for entry in plan.parameterTable {
                    values.append(Summaries.histogram(entry.name, UnsafeBufferPointer(plan.view(of: entry))))
                    if let gradient = plan.gradientView(of: entry) {
                        values.append(Summaries.histogram("\(entry.name)/gradient", UnsafeBufferPointer(gradient)))
                    }
                }
                try train.write(values, step: step)
            }
            if settings.imagesEveryEpochs > 0 && metrics.epoch % settings.imagesEveryEpochs == 0 { try writeImages(step: step) }
        }
    }

    func runFinished(_ summary: RunSummary) {
        guarded {
            let status: Tensorboard_Status =
                switch summary.status {
                case .completed: .success
                case .failed: .failure
                case .running: .running
                case .interrupted: .unknown
                }
            var values = [Summaries.sessionEnd(status)]
            if spec.tensorboard.text {
                values.append(
                    Summaries.text(
                        "status",
                        "**\(summary.status.rawValue)** after \(summary.epochsCompleted) of \(summary.epochs) epochs" + (summary.error.map { ": \($0)" } ?? ""))
                )
            }
            try root?.write(values, step: summary.epochsCompleted * stepsPerEpoch)
            root?.sync(); train?.sync(); validation?.sync()
        }
    }

    /// The sweep's varied keys and the main fixed ones, typed as TensorBoard shows them.
    func hyperparameters() -> [String: Summaries.HParam] {
        var result: [String: Summaries.HParam] = [:]
        // `ran` after the spec's own: `auto` is shown as what it resolved to on this machine.
        for (key, value) in spec.hyperparameters + varied + ran {
            if let number = Double(value) {
                result[key] = .number(number)
            } else if value == "true" || value == "false" {
                result[key] = .bool(value == "true")
            } else {
                result[key] = .string(value)
            }
        }
        return result
    }

    func graphNodes(_ graph: Graph) -> [(name: String, op: String, inputs: [String], attributes: [String: String])] {
        func ascii(_ shape: Shape) -> String { shape.dimensions.map(String.init).joined(separator: "x") }
        var nodes: [(name: String, op: String, inputs: [String], attributes: [String: String])] = [("input", "Input", [], ["shape": ascii(graph.input)])]
        for node in graph.nodes {
            let inputs = node.inputs.map { source -> String in
                if case .node(let index) = source { return graph.nodes[index].name }
                return "input"
            }
            var attributes = ["output_shape": ascii(node.outputShape), "parameters": String(node.parameterCount)]
            for (key, value) in node.layer.resolvedOptions {
                switch value {
                case .int(let v): attributes[key] = String(v)
                case .double(let v): attributes[key] = String(v)
                case .string(let v): attributes[key] = v
                case .bool(let v): attributes[key] = String(v)
                }
            }
            nodes.append((node.name, node.kind, inputs, attributes))
        }
        return nodes
    }

    /// A grid of validation examples with green (right) or red (wrong) borders, and the first
    /// convolution's filters.
    func writeImages(step: Int) throws {
        guard let trainer, let validation, let root else { return }
        let data = trainer.validation
        let indices = Array(0 ..< min(16, data.count))
        guard !indices.isEmpty else { return }
        let predicted = trainer.predict(data, indices: indices)
        let (height, width, channels) = (data.shape[0], data.shape.rank > 1 ? data.shape[1] : 1, data.shape.channels)
        let images: [[UInt8]] = indices.map { index in
            let pixels = [Float](unsafeUninitializedCapacity: data.shape.count) { buffer, initialized in
                data.copyExamples(index, count: 1, into: buffer.baseAddress!)
                initialized = data.shape.count
            }
            return rgb(normalised(pixels), channels: channels)
        }
        let colors: [[UInt8]] = zip(indices, predicted).map { Int(data.labels[$0]) == $1 ? [40, 200, 60] : [230, 40, 40] }
        let (png, w, h) = grid(images, width: width, height: height, borders: colors)
        let legend = zip(indices, predicted).enumerated().map { position, pair in
            "\(position + 1). true **\(data.classNames[Int(data.labels[pair.0])])**, predicted **\(data.classNames[pair.1])**"
        }.joined(separator: "  \n")
        try validation.write(
            [
                Summaries.image("examples", png: png, width: w, height: h, channels: 3),
                Summaries.text("examples_legend", "Validation examples, row by row; green border: right, red: wrong.  \n" + legend),
            ],
            step: step)
        // Filters of the first convolution: weight [K, K, C, F].
        if let entry = trainer.plan.parameterTable.first(where: { $0.name.hasSuffix("/weight") && $0.spec.shape.count == 4 }) {
            let shape = entry.spec.shape, (k, c, f) = (shape[0], shape[2], shape[3])
            let weights = Array(trainer.plan.view(of: entry))
            let filters: [[UInt8]] = (0 ..< min(f, 64)).map { filter in
                var values: [Float] = []
                for y in 0 ..< k {
                    for x in 0 ..< k { for channel in 0 ..< (c == 3 ? 3 : 1) { values.append(weights[((y * k + x) * c + channel) * f + filter]) } }
                }
                return rgb(normalised(values), channels: c == 3 ? 3 : 1)
            }
            let (filterPNG, fw, fh) = grid(filters, width: k, height: k, borders: nil)
            try root.write([Summaries.image("\(entry.name.dropLast(7))/filters", png: filterPNG, width: fw, height: fh, channels: 3)], step: step)
        }
    }
}

/// Min–max scaling to 0…255.
func normalised(_ values: [Float]) -> [UInt8] {
    let low = values.min() ?? 0, high = values.max() ?? 1
    let scale = high > low ? 255 / (high - low) : 0
    return values.map { UInt8(max(0, min(255, (($0 - low) * scale).rounded()))) }
}

/// Gray or RGB bytes as RGB.
func rgb(_ bytes: [UInt8], channels: Int) -> [UInt8] {
    channels == 3 ? bytes : bytes.flatMap { [$0, $0, $0] }
}

/// Tiles RGB images 4 to a row (or up to 8 for many), each scaled up to about 32 pixels, with
/// an optional 2-pixel coloured border per tile; returns the PNG and its size.
func grid(_ images: [[UInt8]], width: Int, height: Int, borders: [[UInt8]]?) -> (Data, Int, Int) {
    let scale = max(1, 32 / max(width, height))
    let border = borders == nil ? 1 : 2
    let tileWidth = width * scale + 2 * border, tileHeight = height * scale + 2 * border
    let columns = images.count > 16 ? 8 : 4
    let rows = (images.count + columns - 1) / columns
    let totalWidth = columns * tileWidth, totalHeight = rows * tileHeight
    var pixels = [UInt8](repeating: 255, count: totalWidth * totalHeight * 3)
    for (index, image) in images.enumerated() {
        let originX = (index % columns) * tileWidth, originY = (index / columns) * tileHeight
        let color = borders?[index] ?? [255, 255, 255]
        for y in 0 ..< tileHeight {
            for x in 0 ..< tileWidth {
                let target = ((originY + y) * totalWidth + originX + x) * 3
                let inside = x >= border && x < tileWidth - border && y >= border && y < tileHeight - border
                if inside {
                    let source = (((y - border) / scale) * width + (x - border) / scale) * 3
                    pixels[target] = image[source]; pixels[target + 1] = image[source + 1]; pixels[target + 2] = image[source + 2]
                } else {
                    pixels[target] = color[0]; pixels[target + 1] = color[1]; pixels[target + 2] = color[2]
                }
            }
        }
    }
    return (encodePNG(width: totalWidth, height: totalHeight, channels: 3, pixels: pixels), totalWidth, totalHeight)
}

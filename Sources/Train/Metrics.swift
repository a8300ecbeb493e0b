import Spec

/// What one logged training step reports.
public struct StepMetrics: Sendable {
    /// Steps done in the run so far (1-based after the first step).
    public var globalStep: Int
    public var epoch: Int
    public var epochs: Int
    public var stepInEpoch: Int
    public var stepsPerEpoch: Int
    public var batchLoss: Double
    public var batchAccuracy: Double
    public var learningRate: Double
    /// Examples in this step, and when it ended (monotonic seconds): observers that report
    /// every N steps compute their own throughput from these.
    public var batchSize: Int
    public var timestamp: Double
}

/// One finished epoch.
public struct EpochMetrics: Codable, Sendable, Equatable {
    /// 1-based, as the console counts.
    public var epoch: Int
    public var trainLoss: Double
    public var trainAccuracy: Double
    public var validationLoss: Double
    public var validationAccuracy: Double
    public var learningRate: Double
    public var imagesPerSecond: Double
    public var seconds: Double
    /// On the test split, when the spec asks for it (`data.test`); never used to choose anything.
    public var testLoss: Double?
    public var testAccuracy: Double?

    /// The value of `metric` this epoch.
    public func value(_ metric: Metric) -> Double {
        switch metric {
        case .validationAccuracy: validationAccuracy
        case .validationLoss: validationLoss
        case .trainAccuracy: trainAccuracy
        case .trainLoss: trainLoss
        }
    }

    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss = "train_loss", trainAccuracy = "train_accuracy", validationLoss = "val_loss",
            validationAccuracy = "val_accuracy", learningRate = "lr", imagesPerSecond = "images_per_second", seconds,
            testLoss = "test_loss", testAccuracy = "test_accuracy"
    }
}

/// What a run's summary.json holds.
public struct RunSummary: Codable, Sendable {
    public enum Status: String, Codable, Sendable { case running, completed, failed, interrupted }
    public var experiment: String
    public var run: String
    public var status: Status
    public var epochs: Int
    public var epochsCompleted: Int
    public var seed: Int
    public var threads: Int
    /// The precision the matrix products ran in (`auto` resolved) and the kernels' CPU level,
    /// as of the latest invocation (a resumed run may continue on another machine).
    public var precision: String?
    public var cpuLevel: String?
    public var parameters: Int
    public var final: EpochMetrics?
    /// The epoch with the highest validation accuracy (the first such on ties).
    public var best: EpochMetrics?
    public var history: [EpochMetrics]
    public var wallSeconds: Double
    public var error: String?
    /// The checkpoint kept for being best (file name in checkpoints/).
    public var bestCheckpoint: String?
    /// The checkpoint this invocation continued from, if any.
    public var resumedFrom: String?
    public var stoppedEarly: Bool?
    /// The keys a sweep point varies, with their values.
    public var varied: [String: String]?
    /// The MPI ranks that trained it data-parallel, as of the latest invocation (absent: one).
    public var ranks: Int?

    public init(
        experiment: String, run: String, status: Status, epochs: Int, epochsCompleted: Int, seed: Int, threads: Int, parameters: Int,
        final: EpochMetrics?, best: EpochMetrics?, history: [EpochMetrics], wallSeconds: Double, error: String?
    ) {
        self.experiment = experiment; self.run = run; self.status = status; self.epochs = epochs; self.epochsCompleted = epochsCompleted
        self.seed = seed; self.threads = threads; self.parameters = parameters; self.final = final; self.best = best
        self.history = history; self.wallSeconds = wallSeconds; self.error = error
    }

    enum CodingKeys: String, CodingKey {
        case experiment, run, status, epochs, epochsCompleted = "epochs_completed", seed, threads, precision, cpuLevel = "cpu_level", parameters,
            final, best, history, wallSeconds = "wall_seconds", error, bestCheckpoint = "best_checkpoint",
            resumedFrom = "resumed_from", stoppedEarly = "stopped_early", varied, ranks
    }
}

/// Receives a run's progress: the console, and later event files and checkpoints.
public protocol TrainingObserver: AnyObject {
    func runStarted(_ run: RunInfo)
    func stepFinished(_ metrics: StepMetrics)
    func epochFinished(_ metrics: EpochMetrics)
    func runFinished(_ summary: RunSummary)
}

/// Facts about a run known when it starts, and the trainer, for observers that look inside
/// (histograms of parameters, predictions on examples).
public struct RunInfo {
    public var experiment: String
    public var run: String
    public var directory: String
    public var trainExamples: Int
    public var validationExamples: Int
    public var parameters: Int
    public var threads: Int
    /// Processes training the run together (MPI ranks), each with `threads` threads.
    public var ranks = 1
    /// Why fewer worker threads run than were asked for (`threads` is what runs), or nil.
    public var threadShortfall: String?
    /// The precision the matrix products run in (`auto` resolved) and the kernels' CPU level.
    public var precision: String
    public var cpuLevel: String
    public var epochs: Int
    public var stepsPerEpoch: Int
    /// Set when the run continues from a checkpoint.
    public var resumedFrom: String?
    /// The precision and CPU level that checkpoint was computed with, when it says.
    public var checkpointCompute: ComputeRecord?
    public var startEpoch: Int
    public var startStep: Int
    public var trainer: Trainer
}

/// The precision the matrix products ran in and the kernels' CPU level, as recorded.
public struct ComputeRecord: Equatable, Sendable {
    public var precision: String
    public var level: String
    public init(precision: String, level: String) { self.precision = precision; self.level = level }
}

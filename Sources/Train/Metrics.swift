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
    /// Training throughput since the previous report.
    public var imagesPerSecond: Double
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

    enum CodingKeys: String, CodingKey {
        case epoch, trainLoss = "train_loss", trainAccuracy = "train_accuracy", validationLoss = "val_loss",
             validationAccuracy = "val_accuracy", learningRate = "lr", imagesPerSecond = "images_per_second", seconds
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
    public var parameters: Int
    public var final: EpochMetrics?
    /// The epoch with the highest validation accuracy (the first such on ties).
    public var best: EpochMetrics?
    public var history: [EpochMetrics]
    public var wallSeconds: Double
    public var error: String?

    enum CodingKeys: String, CodingKey {
        case experiment, run, status, epochs, epochsCompleted = "epochs_completed", seed, threads, parameters,
             final, best, history, wallSeconds = "wall_seconds", error
    }
}

/// Receives a run's progress: the console, and later event files and checkpoints.
public protocol TrainingObserver: AnyObject {
    func runStarted(_ run: RunInfo)
    func stepFinished(_ metrics: StepMetrics)
    func epochFinished(_ metrics: EpochMetrics)
    func runFinished(_ summary: RunSummary)
}

/// Facts about a run known when it starts.
public struct RunInfo: Sendable {
    public var experiment: String
    public var run: String
    public var directory: String
    public var trainExamples: Int
    public var validationExamples: Int
    public var parameters: Int
    public var threads: Int
    public var epochs: Int
    public var stepsPerEpoch: Int
}

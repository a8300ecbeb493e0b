import Tensor

/// A dataset a spec may name (`data.dataset`): which `data:` keys it takes, what it knows about
/// its images before reading them, and how it reads (or makes) a split. One type per dataset,
/// next to its reader, plus one line in `DatasetRegistry`; the spec parser, the experiment's
/// checks and the loaders all ask the kind, never the name.
public protocol DatasetKind {
    /// The spec's name for it (`cifar10`, `image_folder`, ...).
    static var name: String { get }
    /// The `data:` keys it reads beyond the common ones (dataset, validation, shuffle, augment,
    /// normalize, test): some of root, url, sha256, test_root, fit, samples, size, noise.
    static var keys: [String] { get }
    /// `root` when the spec gives none (nil: the spec must give one, or the kind reads no files).
    static var defaultRoot: String? { get }
    /// The held-out validation examples when the spec gives none: a count, or a fraction < 1.
    static var defaultValidation: Double { get }
    /// For `sha256:`: the files that each take a digest (a mapping file → digest); empty when
    /// `sha256` is the one digest of the downloaded archive.
    static var checksummedFiles: [String] { get }

    /// Whether there is a test split with these options.
    static func hasTestSplit(_ options: DatasetOptions) -> Bool
    /// Image shape known without reading anything; nil when the model's input decides it (images
    /// are fitted to it).
    static func imageShape(_ options: DatasetOptions) -> Shape?
    /// The number of classes, reading as little as possible (a folder listing at most).
    static func classes(_ options: DatasetOptions) throws(DataError) -> Int
    /// Whether the classes come from the files (then a count a checkpoint recorded stands in for
    /// them, once the files may be gone); otherwise they are fixed by the kind.
    static var classesFromFiles: Bool { get }
    /// Training examples before validation is held out, when known without reading.
    static func trainExamples(_ options: DatasetOptions) -> Int?
    /// A split of the dataset: reads (downloading first if the kind downloads) or generates it.
    /// `trainClasses`, for a test split, are the training split's class names when a checkpoint
    /// recorded them. `log` receives progress lines (downloads).
    static func load(_ split: Split, _ options: DatasetOptions, trainClasses: [String]?, log: (String) -> Void) throws(DataError) -> Dataset
}

extension DatasetKind {
    public static var defaultRoot: String? { nil }
    public static var defaultValidation: Double { 0.2 }
    public static var checksummedFiles: [String] { [] }
    public static var classesFromFiles: Bool { false }
    public static func hasTestSplit(_ options: DatasetOptions) -> Bool { false }
    public static func trainExamples(_ options: DatasetOptions) -> Int? { nil }
    /// Whether the kind reads files (it takes a `root`).
    public static var readsFiles: Bool { keys.contains("root") }

    /// The error for a split the kind does not have (callers check `hasTestSplit` first).
    static func missing(_ split: Split) -> DataError {
        DataError(file: name, "\(name) has no \(split.rawValue) split", hint: "use --split validation (the held-out part of the training data)")
    }
}

/// The two splits a dataset can have. (Validation is carved out of `train` by the experiment.)
public enum Split: String, Sendable, CaseIterable {
    case train, test
}

/// What the spec says about the data, for the kind to read: each kind reads the fields its
/// `keys` name; `seed` and `input` (the model's input shape) come from the rest of the spec.
public struct DatasetOptions: Sendable {
    public var root: String?
    public var url: String?
    public var sha256: String?
    /// File name → SHA-256 (kinds with `checksummedFiles`).
    public var checksums: [String: String] = [:]
    public var testRoot: String?
    public var fit: Images.Fit = .stretch
    public var samples = 0, size = 0
    public var noise = 0.0
    public var seed: UInt64 = 0
    public var input: Shape = [1]
    public init() {}
}

/// Every dataset a spec may name. Adding one: a type conforming to `DatasetKind`, one line here.
public enum DatasetRegistry {
    public static let kinds: [any DatasetKind.Type] = [
        Digits.self,
        XO.self,
        CIFAR10.self,
        MNIST.self,
        FashionMNIST.self,
        ImageFolder.self,
    ]

    public static func kind(named name: String) -> (any DatasetKind.Type)? { kinds.first { $0.name == name } }

    public static var names: [String] { kinds.map { $0.name } }
}

import Datasets
import Kernels

/// One key of an experiment file, declared once: the values it takes, its default and its
/// meaning. The readers (ExperimentSpec, DataSpec, TrainSpec, ...) take their allowed keys and,
/// through `SpecMap`'s overloads, defaults and bounds from here; `runner spec` prints these
/// declarations and `runner schema` turns them into a JSON Schema. Layer options are declared
/// by each kind (`LayerOption`), dataset keys by each dataset kind.
public struct SpecKey: Sendable {
    public let key: String
    public let value: SpecValue
    /// The default as data, for readers and the schema's `default`; nil when the key is
    /// required or its default depends on other keys (then `shown` says what it is).
    public let defaultValue: JSONValue?
    /// The default as the reference shows it (`<required>`, `data/<dataset>`).
    public let shown: String
    /// One or more lines for the reference; the schema's description joins them.
    public let meaning: String
    /// A value to suggest in an error's hint.
    public let example: String

    public init(_ key: String, _ value: SpecValue, default defaultValue: JSONValue?, shown: String? = nil, example: String = "", _ meaning: String) {
        self.key = key; self.value = value
        // A number's default written as a whole number (`default: 0`) is still a number.
        if case .number = value, case .int(let whole)? = defaultValue { self.defaultValue = .number(Double(whole)) } else { self.defaultValue = defaultValue }
        self.shown = shown ?? self.defaultValue?.yamlText ?? "<required>"
        self.meaning = meaning; self.example = example
    }
}

/// The values a key takes, as a reader checks them and a JSON Schema states them.
public indirect enum SpecValue: Sendable {
    case integer(minimum: Int?, maximum: Int?)
    case number(minimum: Double?, maximum: Double?)
    case boolean
    case string(pattern: String?)
    /// One of these words ("true" and "false" are YAML's booleans).
    case choice([String])
    case list(SpecValue, minItems: Int)
    /// A mapping with these keys only; `required` must be present.
    case mapping([SpecKey], required: [String])
    /// A bare word or a one-key mapping `{word: {options}}` (optimizer, schedule, loss).
    case variant([Variant])
    case anyOf([SpecValue])
    case null
    /// A mapping of any keys to values of one kind (sha256's file → digest).
    case dictionary(SpecValue)
    /// `model:` (a path or `{input, layers}`), `data:` (keys by dataset) and `sweep:` have
    /// schemas of their own (Schema.swift).
    case model, data, sweep

    public struct Variant: Sendable {
        public let name: String
        public let options: [SpecKey]
        public init(_ name: String, _ options: [SpecKey]) { self.name = name; self.options = options }
    }

    /// The keys of a mapping (empty otherwise).
    public var keys: [String] {
        if case .mapping(let keys, _) = self { return keys.map(\.key) }
        return []
    }
}

/// Every key of an experiment file. The order is the reference's.
public enum Declarations {
    static let epochsKey = SpecKey("epochs", .integer(minimum: 1, maximum: nil), default: 10, "")
    static let adamOptions: [SpecKey] = [
        SpecKey("lr", .number(minimum: 0, maximum: 1e300), default: 0.001, example: "0.001", "learning rate"),
        SpecKey("beta1", .number(minimum: 0, maximum: 0.999999), default: 0.9, example: "0.9", "first-moment decay"),
        SpecKey("beta2", .number(minimum: 0, maximum: 0.999999999), default: 0.999, example: "0.999", "second-moment decay"),
        SpecKey("epsilon", .number(minimum: 1e-30, maximum: 1), default: 1.0e-8, example: "1.0e-8", "added to the root of the second moment"),
        SpecKey(
            "weight_decay", .number(minimum: 0, maximum: 1), default: nil, shown: "0.0 (adamw: 0.01)", example: "0.01",
            "L2 decay (adam: added to the gradient; adamw: decoupled, subtracted from the weights)"),
    ]
    public static let optimizer = SpecKey(
        "optimizer",
        .variant([
            .init("adam", adamOptions), .init("adamw", adamOptions),
            .init(
                "sgd",
                [
                    SpecKey("lr", .number(minimum: 0, maximum: 1e300), default: 0.01, example: "0.01", "learning rate"),
                    SpecKey("momentum", .number(minimum: 0, maximum: 0.999999), default: 0.9, example: "0.9", "heavy-ball momentum"),
                    SpecKey("nesterov", .boolean, default: false, "Nesterov's variant"),
                    SpecKey("weight_decay", .number(minimum: 0, maximum: 1), default: 0, example: "0.0005", "L2 decay added to the gradient"),
                ]),
        ]), default: "adam", shown: "adam", "adam, adamw (decoupled decay) or sgd; {NAME: {options}} sets its options")
    static let warmup = SpecKey(
        "warmup_epochs", .number(minimum: 0, maximum: nil), default: 0, example: "1", "linear warm-up over this many epochs (at most train.epochs)")
    public static let schedule = SpecKey(
        "schedule",
        .variant([
            .init("constant", []),
            .init(
                "steps",
                [
                    SpecKey(
                        "at_epochs", .list(.integer(minimum: 1, maximum: nil), minItems: 0), default: nil,
                        "increasing epochs; the rate changes once that many have finished"),
                    SpecKey("factor", .number(minimum: 0, maximum: 1), default: 0.1, example: "0.1", "the rate is multiplied by this at each"),
                    SpecKey(
                        "values", .list(.number(minimum: nil, maximum: nil), minItems: 0), default: nil, shown: "<none>",
                        "or the rates themselves, one per at_epochs entry"),
                ]),
            .init("cosine", [warmup, SpecKey("min_lr", .number(minimum: 0, maximum: 100), default: 0, example: "0", "the rate at the end")]),
            .init(
                "linear",
                [
                    warmup, SpecKey("start_lr", .number(minimum: 0, maximum: 100), default: 0, example: "1.0e-4", "the rate the warm-up starts from"),
                    SpecKey("min_lr", .number(minimum: 0, maximum: 100), default: 0, example: "0", "the rate at the end (a straight line down after warm-up)"),
                ]),
        ]), default: "constant", "constant, steps, cosine or linear; {NAME: {options}} sets its options")
    static let group = SpecKey(
        "groups",
        .list(
            .mapping(
                [
                    SpecKey("parameters", .string(pattern: nil), default: nil, "a pattern over layer/parameter names (* any run, ? one character)"),
                    SpecKey("lr_scale", .number(minimum: 0, maximum: 1e6), default: 1, example: "64", "multiplies the learning rate"),
                    SpecKey(
                        "weight_decay_scale", .number(minimum: 0, maximum: 1e6), default: nil, shown: "<none>", example: "0",
                        "multiplies weight decay, which then applies to all it matches, biases too"),
                    SpecKey("epochs", .integer(minimum: 1, maximum: nil), default: nil, shown: "<all>", "trained during the first that many epochs only"),
                ], required: ["parameters"]), minItems: 0),
        default: [], "optimizer settings for some parameters, the first match applying")
    static let lookahead = SpecKey(
        "lookahead",
        .anyOf([
            .null,
            .mapping(
                [
                    SpecKey("every", .integer(minimum: 1, maximum: 1_000_000), default: 5, "steps between averages"),
                    SpecKey("decay", .number(minimum: 0, maximum: 1), default: 0.95, example: "0.95", "d = decay^every · (t/T)^power"),
                    SpecKey("power", .number(minimum: 0, maximum: 100), default: 3, example: "3", "ema = d·ema + (1−d)·w, then the weights are set to it"),
                ], required: []),
        ]), default: nil, shown: "<none>", "weights (and batchnorm statistics) averaged every `every` steps and set to the average; the last step ends on it")
    public static let train = SpecKey(
        "train",
        .mapping(
            [
                epochsKey,
                SpecKey("batch_size", .integer(minimum: 1, maximum: 65536), default: 32, ""),
                optimizer, schedule,
                SpecKey("log_every_steps", .integer(minimum: 1, maximum: nil), default: 50, "console interval"),
                SpecKey("threads", .integer(minimum: 0, maximum: nil), default: 0, "0 = every core"),
                SpecKey(
                    "precision", .choice(PrecisionSetting.allCases.map(\.rawValue)), default: "auto",
                    "bf16 where the CPU has AVX512-BF16, else fp32; or fp32, or bf16 (bfloat16 products,\n"
                        + "float32 sums and weights; refused where the CPU lacks AVX512-BF16)"
                ),
                group, lookahead,
            ], required: []), default: nil, shown: "", "")
}

extension Declarations {
    static let metricChoices = Metric.allCases.map(\.rawValue)
    public static let checkpoint = SpecKey(
        "checkpoint",
        .mapping(
            [
                SpecKey("every_epochs", .integer(minimum: 1, maximum: nil), default: 1, "also at the end, on SIGINT/SIGTERM, and whenever keep_best improves"),
                SpecKey("keep_last", .integer(minimum: 1, maximum: nil), default: 3, "the newest this many are kept …"),
                SpecKey(
                    "keep_best", .anyOf([.choice(metricChoices + ["none"]), .null]), default: "val/accuracy",
                    "… and the best by this metric (or none): \(metricChoices.joined(separator: ", "))"),
            ], required: []), default: nil, shown: "", "")
    public static let tensorboard = SpecKey(
        "tensorboard",
        .anyOf([
            .mapping(
                [
                    SpecKey("enabled", .boolean, default: true, ""),
                    SpecKey(
                        "scalars_every_steps", .integer(minimum: 0, maximum: nil), default: 50,
                        "batch loss/accuracy, learning rate, images/s (epoch metrics always)"),
                    SpecKey("histograms_every_epochs", .integer(minimum: 0, maximum: nil), default: 1, "every parameter and its gradient (0 = off)"),
                    SpecKey(
                        "images_every_epochs", .integer(minimum: 0, maximum: nil), default: 5,
                        "validation examples (true vs predicted) and the first conv's filters (0 = off)"),
                    SpecKey("graph", .boolean, default: true, "the layer graph for the Graphs dashboard"),
                    SpecKey("text", .boolean, default: true, "the resolved config for the Text dashboard"),
                ], required: []),
            .choice(["false", "off"]), .null,
        ]), default: nil, shown: "", "event files for `tensorboard --logdir runs` (false turns them off)")
    public static let earlyStopping = SpecKey(
        "early_stopping",
        .anyOf([
            .null,
            .mapping(
                [
                    SpecKey("metric", .choice(metricChoices), default: "val/accuracy", ""),
                    SpecKey("mode", .choice(Direction.allCases.map(\.rawValue)), default: nil, shown: "max (losses: min)", "which way is better"),
                    SpecKey("patience", .integer(minimum: 1, maximum: nil), default: 5, "epochs without improvement before stopping"),
                    SpecKey("min_delta", .number(minimum: 0, maximum: 1e9), default: 0, example: "0.001", "an improvement must exceed this"),
                ], required: []),
        ]), default: nil, shown: "null", "stop when the metric has not improved for patience epochs")
    public static let loss = SpecKey(
        "loss",
        .anyOf([
            .variant([
                .init(
                    "softmax_cross_entropy",
                    [SpecKey("label_smoothing", .number(minimum: 0, maximum: 0.999), default: 0, example: "0.1", "targets (1 − s)·onehot + s/classes")])
            ]), .null,
        ]), default: "softmax_cross_entropy", "the only loss; {softmax_cross_entropy: {label_smoothing: 0.1}} smooths the targets")

    /// The experiment file's keys, in the reference's order.
    public static let experiment: [SpecKey] = [
        SpecKey(
            "name", .string(pattern: "^[A-Za-z0-9_][A-Za-z0-9_.=,-]*$"), default: nil, shown: "<file name>",
            "run folder: runs/<name>/default (letters, digits and _ . - = ,)"),
        SpecKey("seed", .integer(minimum: nil, maximum: nil), default: 0, "fixes initialisation, data split, shuffling, dropout"),
        SpecKey("model", .model, default: nil, "a model file (path relative to this file) or an inline mapping"),
        data, loss, train, checkpoint, tensorboard, earlyStopping,
        SpecKey(
            "sweep", .sweep, default: nil, shown: "null",
            "{dotted.key: [values], ...}: one run per combination (grid), named key=value,...\n"
                + "or {random: N, dotted.key: {uniform: [a, b]} | {log_uniform: [a, b]} | {int_uniform: [a, b]} | [choices]}"
        ),
    ]
    public static var experimentKeys: [String] { experiment.map(\.key) }
    /// The experiment file as one mapping, for `Declarations.file["seed"]`.
    public static let file = SpecKey("experiment", .mapping(experiment, required: ["model", "data"]), default: nil, shown: "", "")
}

extension Declarations {
    public static let augment = SpecKey(
        "augment",
        .anyOf([
            .null,
            .mapping(
                [
                    SpecKey("crop", .integer(minimum: 0, maximum: 64), default: 0, "pad that many zero pixels per side, take a random window"),
                    SpecKey("translate", .integer(minimum: 0, maximum: 64), default: 0, "instead of crop: shift as far, filling from the image reflected"),
                    SpecKey(
                        "flip", .choice(Augmentation.Flip.allCases.map(\.rawValue)), default: false,
                        "true mirrors half of them; alternating mirrors each image every other epoch (at random in the first)"),
                    SpecKey("cutout", .integer(minimum: 0, maximum: 1024), default: 0, "zero a square of that side at a random centre"),
                ], required: []),
        ]), default: nil, shown: "{crop: 0, flip: false, cutout: 0}",
        "training images only, drawn from (seed, epoch, position)")
    public static let normalize = SpecKey(
        "normalize",
        .anyOf([
            .choice(["none", "false", "auto"]), .null,
            .mapping(
                [
                    SpecKey("mean", .list(.number(minimum: nil, maximum: nil), minItems: 1), default: nil, "one per channel"),
                    SpecKey("std", .list(.number(minimum: 0, maximum: nil), minItems: 1), default: nil, "one per channel, positive"),
                ], required: ["mean", "std"]),
        ]), default: "none", "or auto (per-channel mean/std of the training split) or {mean: [...], std: [...]}")
    /// The `data:` keys every dataset takes.
    public static let dataCommon: [SpecKey] = [
        SpecKey("dataset", .choice(DatasetRegistry.names), default: nil, DatasetRegistry.names.joined(separator: " | ")),
        SpecKey(
            "validation", .number(minimum: nil, maximum: nil), default: nil, shown: "0.2",
            "held-out examples: a count, or a fraction when < 1 (cifar10: 5000)"),
        SpecKey("shuffle", .boolean, default: true, "a new order each epoch (from the seed); false keeps the files' order"),
        augment, normalize,
        SpecKey(
            "test", .choice(TestMode.allCases.map(\.rawValue)), default: "never",
            "cifar10, mnist, fashion_mnist, image_folder with test_root: final or every_epoch evaluates\n"
                + "the test split (reported, never used to choose a checkpoint or stop early)"
        ),
        SpecKey(
            "tta", .choice(TestTimeAugmentation.allCases.map(\.rawValue)), default: "none",
            "test-time augmentation of the test split and of predict (--tta overrides): flip\n"
                + "(the image and its mirror, logits averaged) or flip_translate (also both\n"
                + "shifted by ±1 pixel, reflected)"
        ),
    ]

    /// The keys some datasets take (`DatasetKind.keys` says which).
    public static let datasetKeys: [SpecKey] = [
        SpecKey(
            "root", .string(pattern: nil), default: nil, shown: "data/<dataset>",
            "cifar10, mnist, fashion_mnist: the folder with the files; missing ones are downloaded there and\n"
                + "checked against their SHA-256 before anything trains. image_folder: required, one folder of PNG/JPEG files per class"
        ),
        SpecKey(
            "url", .string(pattern: nil), default: nil, shown: "<public address>",
            "cifar10: the archive; mnist, fashion_mnist: the folder holding the four .gz files (http, https or file)"),
        SpecKey(
            "sha256", .anyOf([.string(pattern: "^[0-9A-Fa-f]{64}$"), .dictionary(.string(pattern: "^[0-9A-Fa-f]{64}$"))]), default: nil, shown: "<published>",
            "cifar10: the archive's digest; mnist, fashion_mnist: {FILE: digest, ...}"),
        SpecKey("test_root", .string(pattern: nil), default: nil, shown: "<none>", "image_folder only: the test split's folder (the same class folders)"),
        SpecKey(
            "fit", .choice(Images.Fit.allCases.map(\.rawValue)), default: "stretch",
            "image_folder only: stretch (resize) or crop (resize the short side, cut the centre)"),
        SpecKey("samples", .integer(minimum: 10, maximum: 1_000_000), default: 2000, "xo only: examples to generate"),
        SpecKey("size", .integer(minimum: 7, maximum: 64), default: 12, "xo only: image side"),
        SpecKey("noise", .number(minimum: 0, maximum: 2), default: 0.2, example: "0.2", "xo only: standard deviation of pixel noise"),
    ]

    public static let data = SpecKey("data", .data, default: nil, "")
}

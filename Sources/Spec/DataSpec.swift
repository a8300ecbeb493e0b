import Datasets
import Foundation
import Layers
import Tensor

/// Which dataset, and how to split it.
public struct DataSpec: Sendable {
    /// The dataset's name, one of `DatasetRegistry.names`; `kind` is what it is.
    public var dataset: String
    /// Where the files are (datasets that read files).
    public var root: String?
    /// cifar10: where to download the archive from when the files are missing, and its SHA-256
    /// (nil: the public archive and its digest).
    public var url: String?
    public var sha256: String?
    /// mnist, fashion_mnist: file name → SHA-256, overriding the published digests.
    public var checksums: [String: String]
    /// image_folder: the test split's folder (same class folders), and how images of another
    /// size fit the model's input: `stretch` or `crop`.
    public var testRoot: String?
    public var fit: Images.Fit
    public var rootLocation: SpecLocation?
    /// Held-out examples for validation: a count, or a fraction of the training set when < 1.
    public var validation: Double
    /// A new order of the training examples each epoch (from the seed), or the file's order.
    public var shuffle: Bool
    /// `xo` only: examples to generate, image side, pixel noise.
    public var samples: Int
    public var size: Int
    public var noise: Double
    /// Random changes to each training image, drawn from (seed, epoch, position): reproducible.
    public var augment: Augmentation
    /// Per-channel normalisation of every split: none, statistics of the training split, or given.
    public var normalize: NormalizeSpec
    /// When the test split is evaluated: never, after the last epoch, or after every epoch (for
    /// reporting only: the best checkpoint and early stopping look at validation alone).
    public var test: TestMode
    /// Test-time augmentation of the test split's evaluations (never of validation).
    public var tta: TestTimeAugmentation = .none
    public var location: SpecLocation
    public var validationLocation: SpecLocation

    /// The keys a dataset kind may take (`DatasetKind.keys`): each is read below, the same way
    /// for every kind that takes it. A kind needing another key adds its reading here.
    public static var datasetKeys: [String] { Declarations.datasetKeys.map(\.key) }

    /// The dataset kind named by `dataset` (checked when the spec was read).
    public var kind: any DatasetKind.Type { DatasetRegistry.kind(named: dataset)! }

    /// What the kind reads: this spec's data options, the run's seed and the model's input.
    public func options(seed: Int, input: Shape) -> DatasetOptions {
        var options = DatasetOptions()
        options.root = root; options.url = url; options.sha256 = sha256; options.checksums = checksums
        options.testRoot = testRoot; options.fit = fit
        options.samples = samples; options.size = size; options.noise = noise
        options.seed = UInt64(bitPattern: Int64(seed)); options.input = input
        return options
    }
}

/// When the test split is evaluated (`data.test`).
public enum TestMode: String, CaseIterable, Sendable {
    case never, final
    case everyEpoch = "every_epoch"
}

public enum NormalizeSpec: Sendable, Equatable {
    case none
    /// Mean and standard deviation per channel of the training split (after validation is held out).
    case auto
    case given(mean: [Double], std: [Double])
}

extension DataSpec {
    init(_ node: SpecNode) throws(SpecError) {
        location = node.location
        // Dataset first, so that its own keys can be checked.
        let common = Declarations.dataCommon.map(\.key)
        let declared = Declarations.data
        let probe = try node.mapping("data", allowed: common + DataSpec.datasetKeys)
        dataset = try probe.choice("dataset", default: nil, allowed: DatasetRegistry.names)
        let kind = DatasetRegistry.kind(named: dataset)!
        // The kind's own keys; each is read the same way whichever kind takes it.
        let map = try node.mapping("data (\(dataset))", allowed: common + kind.keys)
        func takes(_ key: String) -> Bool { kind.keys.contains(key) }
        root = takes("root") ? try map.string("root", default: kind.defaultRoot) : nil
        rootLocation = map["root"]?.location
        testRoot = takes("test_root") && map["test_root"] != nil ? try map.string("test_root", default: nil) : nil
        fit = takes("fit") ? try map.choice(declared["fit"]) : .stretch
        url = map["url"] == nil ? nil : try map.string("url", default: nil)
        (sha256, checksums) = try DataSpec.digests(map, files: kind.checksummedFiles)
        validation = try map.double("validation", default: kind.defaultValidation)
        validationLocation = map["validation"]?.location ?? node.location
        shuffle = try map.bool(declared["shuffle"])
        guard validation > 0 else {
            throw SpecError(
                map["validation"]!.location, "'validation' must be positive, got \(validation)", hint: "a count of examples (5000) or a fraction (0.2)")
        }
        // At most 1,000,000 glyphs of at most 64×64: 16 GB of pixels at the extremes, so the
        // product is capped too (100 million pixels, 400 MB).
        samples = takes("samples") ? try map.int(declared["samples"]) : 0
        size = takes("size") ? try map.int(declared["size"]) : 0
        if samples * size * size > 100_000_000 {
            throw SpecError(
                map["samples"]?.location ?? map.location,
                "\(samples) samples of \(size)×\(size) are \(samples * size * size) pixels; xo generates at most 100,000,000",
                hint: "use fewer samples or a smaller size")
        }
        noise = takes("noise") ? try map.double(declared["noise"]) : 0
        test = try map.choice(declared["test"])
        var given = DatasetOptions()
        given.root = root; given.testRoot = testRoot
        if test != .never && !kind.hasTestSplit(given) {
            throw SpecError(
                map["test"]!.location, "\(dataset) has no test split",
                hint: takes("test_root") ? "set data.test_root to the test images' folder" : "remove 'test'")
        }
        augment = try map["augment"].map(Augmentation.init) ?? Augmentation()
        tta = try map.choice(declared["tta"])
        if tta != .none && test == .never {
            throw SpecError(
                map["tta"]!.location, "'tta' averages views of the test split, which this spec never evaluates", hint: "set test: final, or remove tta")
        }
        normalize = try map["normalize"].map(NormalizeSpec.init) ?? .none
    }
}

extension DataSpec {
    /// `sha256`: one digest (of the archive), or for kinds with `files` a mapping file → digest
    /// (files left out keep their published digests).
    static func digests(_ map: SpecMap, files: [String]) throws(SpecError) -> (String?, [String: String]) {
        guard let node = map["sha256"], !node.isNull else { return (nil, [:]) }
        func checked(_ node: SpecNode, _ text: String) throws(SpecError) -> String {
            guard text.count == 64, text.allSatisfy(\.isHexDigit) else {
                throw SpecError(node.location, "'sha256' must be 64 hexadecimal digits, got '\(text)'", hint: "copy the digest printed by `sha256sum FILE`")
            }
            return text.lowercased()
        }
        if files.isEmpty { return (try checked(node, try map.string("sha256", default: nil)), [:]) }
        let digests = try node.mapping("sha256", allowed: files)
        var checksums: [String: String] = [:]
        for file in files { if let entry = digests[file] { checksums[file] = try checked(entry, try digests.string(file, default: nil)) } }
        return (nil, checksums)
    }
}

extension Augmentation {
    /// `augment: {crop: 4, flip: true, cutout: 8}` or `{translate: 2, flip: alternating}` (null: none).
    init(_ node: SpecNode) throws(SpecError) {
        guard !node.isNull else { self.init(); return }
        // Declared bounds 0...64 (0...1024 for cutout), checked together below with one message.
        let declared = Declarations.augment
        let options = try node.mapping("augment", declared: declared)
        self.init(
            crop: try options.int("crop", default: 0, atLeast: 0), translate: try options.int("translate", default: 0, atLeast: 0),
            flip: try options.choice(declared["flip"]), cutout: try options.int("cutout", default: 0, atLeast: 0))
        guard crop <= 64, translate <= 64, cutout <= 1024 else {
            throw SpecError(
                node.location, "'crop' and 'translate' must be at most 64 and 'cutout' at most 1024 pixels",
                hint: "for example augment: {crop: 4, flip: true}")
        }
        guard crop == 0 || translate == 0 else {
            throw SpecError(
                options["translate"]!.location, "'crop' and 'translate' both shift the image: give one",
                hint: "crop fills the border with zeros, translate with the image reflected")
        }
    }
}

extension NormalizeSpec {
    /// `normalize: none | auto | {mean: [...], std: [...]}` (null: none).
    init(_ node: SpecNode) throws(SpecError) {
        guard !node.isNull else { self = .none; return }
        if let word = node.scalarText {
            switch word {
            case "none", "false": self = .none
            case "auto": self = .auto
            default:
                throw SpecError(node.location, "'normalize' cannot be '\(word)'", hint: "none, auto, or {mean: [...], std: [...]} with one number per channel")
            }
            return
        }
        let options = try node.mapping("normalize", declared: Declarations.normalize)
        guard let meanNode = options["mean"] else { throw options.missing("mean") }
        guard let stdNode = options["std"] else { throw options.missing("std") }
        var mean: [Double] = [], std: [Double] = []
        for entry in try meanNode.sequence("mean") { mean.append(try entry.double("mean")) }
        for entry in try stdNode.sequence("std") {
            let value = try entry.double("std")
            guard value > 0 else { throw SpecError(entry.location, "'std' must be positive, got \(value)", hint: "for example std: [0.247, 0.243, 0.261]") }
            std.append(value)
        }
        guard mean.count == std.count, !mean.isEmpty else {
            throw SpecError(
                stdNode.location, "'mean' and 'std' need one number per channel each, got \(mean.count) and \(std.count)",
                hint: "for example mean: [0.49, 0.48, 0.45], std: [0.25, 0.24, 0.26]")
        }
        self = .given(mean: mean, std: std)
    }
}

import CImage
import Files
import Foundation
import Tensor

/// PNG and JPEG files decoded (libpng, libjpeg-turbo) and fitted to a model's input.
public enum Images {
    /// How an image of another size becomes the model's height × width.
    public enum Fit: String, Sendable, CaseIterable {
        /// Bilinear resize of the whole image (the aspect ratio may change).
        case stretch
        /// Bilinear resize so the shorter side fits, then the centre cut out.
        case crop
    }

    public static let extensions: Set<String> = ["png", "jpg", "jpeg"]

    /// The image at `path` as floats in [0, 1], `shape` = [height, width, channels (1 or 3)].
    public static func load(_ path: String, shape: Shape, fit: Fit) throws(DataError) -> [Float] {
        try loadPixels(path, shape: shape, fit: fit).floats
    }

    public static func decode(_ bytes: Data, file: String, shape: Shape, fit: Fit) throws(DataError) -> [Float] {
        try decodePixels(bytes, file: file, shape: shape, fit: fit).floats
    }

    /// An image fitted to the model's input: its bytes as stored when it already has that size
    /// (no resampling; byte / 255 gives exactly the floats resampling would: every weight is 1
    /// or 0), else the resampled floats.
    public enum Pixels {
        case bytes([UInt8])
        case floats([Float])

        public var floats: [Float] {
            switch self {
            case .bytes(let bytes): bytes.map { Float($0) / 255 }
            case .floats(let floats): floats
            }
        }
    }

    public static func loadPixels(_ path: String, shape: Shape, fit: Fit) throws(DataError) -> Pixels {
        let bytes: Data
        do { bytes = try FileLimits.read(path, cap: FileLimits.imageFile, kind: "image") } catch { throw DataError(error) }
        return try decodePixels(bytes, file: path, shape: shape, fit: fit)
    }

    public static func decodePixels(_ bytes: Data, file: String, shape: Shape, fit: Fit) throws(DataError) -> Pixels {
        let channels = shape[2]
        var pixels: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            runner_image_decode(
                raw.bindMemory(to: UInt8.self).baseAddress, raw.count, Int32(channels), FileLimits.imagePixels,
                &pixels, &width, &height, &message, message.count)
        }
        guard status == 0, let pixels else {
            let hint =
                switch status {
                case Int32(RUNNER_IMAGE_TOO_LARGE): "scale the image down first (runner fits it to the model's input anyway)"
                case Int32(RUNNER_IMAGE_UNSUPPORTED): "convert it to RGB, e.g. convert in.jpg -colorspace sRGB out.jpg"
                default: "use a PNG or JPEG file"
                }
            throw DataError(file: file, String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), hint: hint)
        }
        defer { runner_image_free(pixels) }
        guard width > 0, height > 0 else { throw DataError(file: file, "the image is empty", hint: "use an image with pixels") }
        if Int(height) == shape[0], Int(width) == shape[1] { return .bytes(Array(UnsafeBufferPointer(start: pixels, count: shape.count))) }
        return .floats(resample(pixels, width: Int(width), height: Int(height), channels: channels, to: shape, fit: fit))
    }

    /// Bilinear sampling (pixel centres aligned, as PIL and TensorFlow's half-pixel rule do).
    static func resample(_ source: UnsafePointer<UInt8>, width: Int, height: Int, channels: Int, to shape: Shape, fit: Fit) -> [Float] {
        let outHeight = shape[0], outWidth = shape[1]
        var scaleY = Double(height) / Double(outHeight), scaleX = Double(width) / Double(outWidth)
        var offsetY = 0.0, offsetX = 0.0
        if fit == .crop {
            let scale = min(scaleY, scaleX)
            offsetY = (Double(height) - scale * Double(outHeight)) / 2
            offsetX = (Double(width) - scale * Double(outWidth)) / 2
            scaleY = scale; scaleX = scale
        }
        var result = [Float](repeating: 0, count: outHeight * outWidth * channels)
        for y in 0 ..< outHeight {
            let sy = min(max(offsetY + (Double(y) + 0.5) * scaleY - 0.5, 0), Double(height - 1))
            let y0 = Int(sy), y1 = min(y0 + 1, height - 1), fy = Float(sy - Double(y0))
            for x in 0 ..< outWidth {
                let sx = min(max(offsetX + (Double(x) + 0.5) * scaleX - 0.5, 0), Double(width - 1))
                let x0 = Int(sx), x1 = min(x0 + 1, width - 1), fx = Float(sx - Double(x0))
                for c in 0 ..< channels {
                    func at(_ yy: Int, _ xx: Int) -> Float { Float(source[(yy * width + xx) * channels + c]) }
                    let top = at(y0, x0) * (1 - fx) + at(y0, x1) * fx
                    let bottom = at(y1, x0) * (1 - fx) + at(y1, x1) * fx
                    result[(y * outWidth + x) * channels + c] = (top * (1 - fy) + bottom * fy) / 255
                }
            }
        }
        return result
    }
}

/// A folder per class of PNG/JPEG files: `root/<class>/<image>`. Classes are the folder names
/// in sorted order; files are read in sorted order too, so the dataset is the same on every
/// machine.
public enum ImageFolder {
    /// A folder's entries (hidden ones skipped), sorted, each with whether it is a folder
    /// (following links). Names are read as bytes: one that is not UTF-8 or holds control
    /// characters is an error naming its bytes, never silently dropped (Foundation's listing
    /// skips names it cannot decode: a class would vanish).
    static func entries(_ path: String) throws(DataError) -> [(name: String, isFolder: Bool)] {
        guard let directory = opendir(path) else {
            throw DataError(file: path, "cannot list the folder: \(String(cString: strerror(errno)))", hint: "check data.root and its permissions")
        }
        defer { closedir(directory) }
        var result: [(String, Bool)] = []
        while let entry = readdir(directory) {
            let bytes = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if bytes.first == UInt8(ascii: ".") { continue }
            guard let name = String(validating: bytes, as: UTF8.self), !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
            else {
                let shown = bytes.map { (0x20 ..< 0x7F).contains($0) && $0 != UInt8(ascii: "\\") ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }
                    .joined()
                throw DataError(
                    file: path, "the entry named \"\(shown)\" is not UTF-8 text or holds control characters",
                    hint: "rename it (class names are printed and recorded in checkpoints)")
            }
            var info = stat()
            let full = (path as NSString).appendingPathComponent(name)
            result.append((name, stat(full, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR))
            guard result.count <= 10_000_000 else { throw DataError(file: path, "the folder holds more than 10,000,000 entries", hint: "check data.root") }
        }
        return result.sorted { $0.0 < $1.0 }
    }

    /// The class folder names under `root`: 2 to 100,000 folders, names of at most 200 characters.
    public static func classes(root: String) throws(DataError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError(file: root, "no such folder", hint: "set data.root to a folder holding one folder of images per class")
        }
        let names = try entries(root).filter(\.isFolder).map(\.name)
        guard names.count >= 2 else {
            throw DataError(
                file: root, "found \(names.count) class folder(s); a classifier needs at least 2",
                hint: "put each class's images in its own folder under data.root")
        }
        guard names.count <= 100_000 else {
            throw DataError(
                file: root, "found \(names.count) class folders; runner trains at most 100,000 classes",
                hint: "check data.root: it should hold one folder per class")
        }
        if let long = names.first(where: { $0.count > 200 }) {
            throw DataError(file: (root as NSString).appendingPathComponent(long), "a class folder's name is longer than 200 characters", hint: "rename it")
        }
        return names
    }

    /// Every class folder must hold at least one image: an empty one is a class the model could
    /// never learn (and usually a mistake in the folder layout).
    public static func load(root: String, shape: Shape, fit: Images.Fit) throws(DataError) -> Dataset {
        let classNames = try classes(root: root)
        var listed: [(folder: String, files: [String])] = []
        for name in classNames {
            let folder = (root as NSString).appendingPathComponent(name)
            let files = try entries(folder).filter { !$0.isFolder && Images.extensions.contains(($0.name as NSString).pathExtension.lowercased()) }.map(\.name)
            guard !files.isEmpty else {
                throw DataError(
                    file: folder, "the class folder '\(name)' holds no .png, .jpg or .jpeg files", hint: "put its images there, or remove the folder")
            }
            listed.append((folder, files))
        }
        // The decoded set lives in memory: refuse it before decoding when it could not fit.
        let count = listed.reduce(0) { $0 + $1.files.count }
        let bytes = Double(count) * Double(shape.count) * 4, limit = Double(ProcessInfo.processInfo.physicalMemory) / 2
        guard bytes <= limit else {
            throw DataError(
                file: root,
                String(
                    format: "%d images at %@ are %.1f GiB as floats, more than half this machine's memory (%.1f GiB)",
                    count, "\(shape)", bytes / 1_073_741_824, limit / 536_870_912),
                hint: "use a smaller model input, or fewer images")
        }
        // As stored, a byte a pixel, while every image has the model's size; floats from the
        // first one that must be resampled (the bytes so far converted, to the same floats).
        var stored: [UInt8]? = [], images: [Float] = [], labels: [Int32] = []
        stored?.reserveCapacity(count * shape.count)
        for (label, (folder, files)) in listed.enumerated() {
            for file in files {
                switch try Images.loadPixels((folder as NSString).appendingPathComponent(file), shape: shape, fit: fit) {
                case .bytes(let pixels) where stored != nil: stored! += pixels
                case let decoded:
                    if let bytes = stored {
                        images.reserveCapacity(count * shape.count)
                        images += Images.Pixels.bytes(bytes).floats
                        stored = nil
                    }
                    images += decoded.floats
                }
                labels.append(Int32(label))
            }
        }
        if let stored { return Dataset(name: "image_folder", shape: shape, classNames: classNames, bytes: stored, labels: labels) }
        return Dataset(name: "image_folder", shape: shape, classNames: classNames, images: images, labels: labels)
    }
}

extension ImageFolder: DatasetKind {
    public static let name = "image_folder"
    public static let keys = ["root", "test_root", "fit"]
    public static let classesFromFiles = true
    public static func hasTestSplit(_ options: DatasetOptions) -> Bool { options.testRoot != nil }
    public static func imageShape(_ options: DatasetOptions) -> Shape? { nil }
    public static func classes(_ options: DatasetOptions) throws(DataError) -> Int { try classes(root: options.root ?? "").count }

    /// The test split's folders must be the training classes: `trainClasses` when a checkpoint
    /// recorded them (the training folders may be gone), else the folders under `root`.
    public static func load(_ split: Split, _ options: DatasetOptions, trainClasses: [String]?, log: (String) -> Void) throws(DataError) -> Dataset {
        let root = split == .test ? options.testRoot ?? "" : options.root ?? ""
        let loaded = try load(root: root, shape: options.input, fit: options.fit)
        if split == .test {
            // (`??` would wrap the throwing call in an untyped autoclosure.)
            let trainClasses = if let trainClasses { trainClasses } else { try classes(root: options.root ?? "") }
            guard loaded.classNames == trainClasses else {
                throw DataError(
                    file: root, "the test folders \(loaded.classNames) differ from the training folders \(trainClasses)",
                    hint: "give both splits the same class folders")
            }
        }
        return loaded
    }
}

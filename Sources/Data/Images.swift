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
        let bytes: Data
        do { bytes = try FileLimits.read(path, cap: FileLimits.imageFile, kind: "image") } catch { throw DataError(error) }
        return try decode(bytes, file: path, shape: shape, fit: fit)
    }

    public static func decode(_ bytes: Data, file: String, shape: Shape, fit: Fit) throws(DataError) -> [Float] {
        let channels = shape[2]
        var pixels: UnsafeMutablePointer<UInt8>?
        var width: Int32 = 0, height: Int32 = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = bytes.withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            runner_image_decode(raw.bindMemory(to: UInt8.self).baseAddress, raw.count, Int32(channels), FileLimits.imagePixels,
                                &pixels, &width, &height, &message, message.count)
        }
        guard status == 0, let pixels else {
            let hint = switch status {
            case Int32(RUNNER_IMAGE_TOO_LARGE): "scale the image down first (runner fits it to the model's input anyway)"
            case Int32(RUNNER_IMAGE_UNSUPPORTED): "convert it to RGB, e.g. convert in.jpg -colorspace sRGB out.jpg"
            default: "use a PNG or JPEG file"
            }
            throw DataError(file: file, String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self), hint: hint)
        }
        defer { runner_image_free(pixels) }
        guard width > 0, height > 0 else { throw DataError(file: file, "the image is empty", hint: "use an image with pixels") }
        return resample(pixels, width: Int(width), height: Int(height), channels: channels, to: shape, fit: fit)
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
    /// The class folder names under `root`.
    public static func classes(root: String) throws(DataError) -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw DataError(file: root, "no such folder", hint: "set data.root to a folder holding one folder of images per class")
        }
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { name in
            var folder: ObjCBool = false
            return !name.hasPrefix(".") && FileManager.default.fileExists(atPath: (root as NSString).appendingPathComponent(name), isDirectory: &folder) && folder.boolValue
        }.sorted()
        guard names.count >= 2 else {
            throw DataError(file: root, "found \(names.count) class folder(s); a classifier needs at least 2", hint: "put each class's images in its own folder under data.root")
        }
        return names
    }

    public static func load(root: String, shape: Shape, fit: Images.Fit) throws(DataError) -> Dataset {
        let classNames = try classes(root: root)
        var images: [Float] = [], labels: [Int32] = []
        for (label, name) in classNames.enumerated() {
            let folder = (root as NSString).appendingPathComponent(name)
            let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
                .filter { Images.extensions.contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
            for file in files {
                images += try Images.load((folder as NSString).appendingPathComponent(file), shape: shape, fit: fit)
                labels.append(Int32(label))
            }
        }
        guard !labels.isEmpty else {
            throw DataError(file: root, "no .png, .jpg or .jpeg files in the class folders", hint: "put the images in root/<class>/")
        }
        return Dataset(name: "image_folder", shape: shape, classNames: classNames, images: images, labels: labels)
    }
}

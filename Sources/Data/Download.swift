import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// Fetching a dataset archive that is not on disk yet: download (http, https or file URL) to a
/// hidden partial file, check its SHA-256, then extract the wanted members, each written to a
/// temporary name and renamed, so an interrupted fetch never leaves a file that looks whole.
public enum Download {
    /// Downloads `url` to `path` unless `path` exists, then checks it against `sha256`.
    /// The name a download from `url` is stored under: the URL's last path component when it is
    /// a plain file name (letters, digits, '.', '_', '-'; not starting with '.'; at most 100
    /// characters), else `default`. The component is %-decoded by URL, so `%2F..%2F` in it
    /// would otherwise climb out of the data folder.
    public static func safeFileName(fromURL url: String, default fallback: String) -> String {
        guard let name = URL(string: url)?.lastPathComponent, !name.isEmpty, name.count <= 100, !name.hasPrefix("."),
              name.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) && $0.isASCII || "._-".unicodeScalars.contains($0) })
        else { return fallback }
        return name
    }

    public static func fetch(_ url: String, to path: String, sha256: String, log: (String) -> Void) throws(DataError) {
        if !FileManager.default.fileExists(atPath: path) {
            guard let source = URL(string: url), ["http", "https", "file"].contains(source.scheme ?? "") else {
                throw DataError(file: path, "cannot download '\(url)': not an http, https or file URL", hint: "set data.url to the archive's address")
            }
            let folder = (path as NSString).deletingLastPathComponent
            do { try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true) } catch {
                throw DataError(file: folder, "cannot create the dataset folder: \(error.localizedDescription)", hint: "check data.root")
            }
            log("Downloading \(url) → \(path)")
            let partial = (folder as NSString).appendingPathComponent(".\((path as NSString).lastPathComponent).part")
            let body = try get(source, file: path)
            do {
                try body.write(to: URL(fileURLWithPath: partial))
                try FileManager.default.moveItem(atPath: partial, toPath: path)
            } catch {
                try? FileManager.default.removeItem(atPath: partial)
                throw DataError(file: path, "cannot save the download: \(error.localizedDescription)", hint: "check that data.root is writable and has room")
            }
        }
        guard let archive = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, "cannot read the archive", hint: "delete it to download it again")
        }
        let actual = SHA256.hex(of: archive)
        guard actual == sha256.lowercased() else {
            throw DataError(file: path, "sha256 is \(actual), expected \(sha256.lowercased()) (\(archive.count) bytes)",
                            hint: "the file is damaged or not the expected archive: delete it to download again, or set data.sha256 if you trust this copy")
        }
        log("Checked sha256 of \(path)")
    }

    /// The body of a GET, or an error naming the URL and the HTTP status.
    static func get(_ url: URL, file: String) throws(DataError) -> Data {
        if url.isFileURL {
            guard let data = FileManager.default.contents(atPath: url.path) else {
                throw DataError(file: url.path, "cannot read the archive to copy", hint: "check data.url")
            }
            return data
        }
        final class Box: @unchecked Sendable { var data: Data?; var response: URLResponse?; var error: Error? }
        let box = Box(), done = DispatchSemaphore(value: 0)
        let task = URLSession.shared.dataTask(with: url) { data, response, error in
            box.data = data; box.response = response; box.error = error
            done.signal()
        }
        task.resume()
        done.wait()
        if let error = box.error {
            throw DataError(file: file, "downloading \(url.absoluteString) failed: \(error.localizedDescription)", hint: "check the network, or put the archive at this path yourself")
        }
        if let http = box.response as? HTTPURLResponse, !(200 ..< 300).contains(http.statusCode) {
            throw DataError(file: file, "downloading \(url.absoluteString) failed: HTTP \(http.statusCode)", hint: "check data.url")
        }
        return box.data ?? Data()
    }

    /// Extracts from a .tar.gz the regular files whose last path component is in `names`,
    /// into `folder`. Returns the names extracted. Other members (and any path) are ignored, so
    /// an archive cannot write outside `folder`.
    public static func extract(tarGz path: String, names: Set<String>, into folder: String) throws(DataError) -> [String] {
        guard let compressed = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, "cannot read the archive", hint: "delete it to download it again")
        }
        let tar = try gunzip(compressed, file: path)
        var extracted: [String] = []
        var offset = 0
        while offset + 512 <= tar.count {
            let header = tar.subdata(in: offset ..< offset + 512)
            if header.allSatisfy({ $0 == 0 }) { break }  // end of archive
            func field(_ start: Int, _ length: Int) -> String {
                let bytes = header[header.startIndex + start ..< header.startIndex + start + length].prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            let name = field(0, 100), prefix = field(345, 155)
            let sizeText = field(124, 12).trimmingCharacters(in: .whitespaces)
            guard let size = Int(sizeText, radix: 8), size >= 0 else {
                throw DataError(file: path, offset: offset, "the tar header of '\(name)' has no valid size", hint: "the archive is damaged: delete it to download it again")
            }
            let type = header[header.startIndex + 156]
            let dataStart = offset + 512
            guard dataStart + size <= tar.count else {
                throw DataError(file: path, offset: offset, "'\(name)' is cut short: \(size) bytes announced, \(tar.count - dataStart) present", hint: "the archive is truncated: delete it to download it again")
            }
            let base = ((prefix.isEmpty ? name : prefix + "/" + name) as NSString).lastPathComponent
            if (type == 0x30 || type == 0) && names.contains(base) {
                let target = (folder as NSString).appendingPathComponent(base)
                let temporary = (folder as NSString).appendingPathComponent(".\(base).part")
                do {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                    try tar.subdata(in: dataStart ..< dataStart + size).write(to: URL(fileURLWithPath: temporary))
                    if FileManager.default.fileExists(atPath: target) { try FileManager.default.removeItem(atPath: target) }
                    try FileManager.default.moveItem(atPath: temporary, toPath: target)
                } catch {
                    try? FileManager.default.removeItem(atPath: temporary)
                    throw DataError(file: target, "cannot extract: \(error.localizedDescription)", hint: "check that data.root is writable and has room")
                }
                extracted.append(base)
            }
            offset = dataStart + (size + 511) / 512 * 512
        }
        return extracted
    }
}

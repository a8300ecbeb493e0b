import CDownload
import Files
import Foundation

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

    /// Asked between pieces of a download: a signal number once the user asked to stop
    /// (SIGINT, SIGTERM), else nil. The CLI sets it; a stopped download leaves no file.
    nonisolated(unsafe) public static var interruption: () -> Int32? = { nil }

    public static func fetch(_ url: String, to path: String, sha256: String, cap: Int = FileLimits.download, log: (String) -> Void) throws(DataError) {
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
            do throws(DataError) {
                try get(source, to: partial, file: path, cap: cap)
                guard rename(partial, path) == 0 else {
                    throw DataError(FileError(path, "cannot save the download: \(String(cString: strerror(errno)))", hint: "check that data.root is writable"))
                }
            } catch {
                unlink(partial)
                throw error
            }
        }
        let actual = try SHA256.hex(ofFile: path, cap: cap)
        guard actual == sha256.lowercased() else {
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            throw DataError(
                file: path, "sha256 is \(actual), expected \(sha256.lowercased()) (\(size) bytes)",
                hint: "the file is damaged or not the expected archive: delete it to download again, or set data.sha256 if you trust this copy")
        }
        log("Checked sha256 of \(path)")
    }

    /// Streams the body of a GET into the file `partial`, piece by piece as it arrives (libcurl's
    /// write callback: memory stays bounded whatever the server sends), stopping with an error
    /// naming the URL at an HTTP error, past `cap` bytes, after 60 s without data, or within a
    /// second of `interruption` answering a signal. (Foundation's URLSession on Linux queued a
    /// fast server's pieces in memory: 24 GB for a 2 GiB cap.)
    static func get(_ url: URL, to partial: String, file: String, cap: Int) throws(DataError) {
        if url.isFileURL {
            var info = stat()
            guard stat(url.path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                throw DataError(file: url.path, "cannot read the archive to copy", hint: "check data.url")
            }
            guard Int(info.st_size) <= cap else {
                throw DataError(
                    file: url.path, "the archive is \(FileLimits.byteCount(Int(info.st_size))), more than the \(FileLimits.byteCount(cap)) runner downloads",
                    hint: "check data.url")
            }
            do { try FileManager.default.copyItem(atPath: url.path, toPath: partial) } catch {
                throw DataError(file: file, "cannot copy the archive: \(error.localizedDescription)", hint: "check that data.root is writable and has room")
            }
            return
        }
        let descriptor = open(partial, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard descriptor >= 0 else {
            throw DataError(
                file: file, "cannot save the download to \(partial): \(String(cString: strerror(errno)))", hint: "check that data.root is writable and has room"
            )
        }
        defer { close(descriptor) }
        var received: Int64 = 0, status = 0, writeError: Int32 = 0
        var message = [CChar](repeating: 0, count: 512)
        // libcurl asks at least once a second whether to stop (a C function: no captures).
        let code = runner_http_get(
            url.absoluteString, descriptor, Int64(cap), { _ in Download.interruption() == nil ? 0 : 1 }, nil,
            &received, &status, &writeError, &message, message.count)
        let action = "downloading \(url.absoluteString)"
        switch code {
        case Int32(RUNNER_GET_OK): return
        case Int32(RUNNER_GET_STOPPED):
            let signal = interruption() == SIGTERM ? "SIGTERM" : "SIGINT"
            throw DataError(
                file: file, "\(action) stopped by \(signal) after \(FileLimits.byteCount(Int(received))); nothing was kept",
                hint: "run again to download it from the start")
        case Int32(RUNNER_GET_TOO_LARGE):
            throw DataError(
                file: file, "\(action) failed: the server sent more than \(FileLimits.byteCount(cap)), the most runner downloads",
                hint: "check data.url: it must be the dataset's archive")
        case Int32(RUNNER_GET_WRITE_FAILED):
            throw DataError(
                file: file, "\(action) failed: cannot write \(partial): \(String(cString: strerror(writeError)))",
                hint: "check that data.root is writable and has room")
        default:
            let text = String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw DataError(
                file: file, "\(action) failed: \(status >= 400 ? "HTTP \(status)" : text)",
                hint: status >= 400 ? "check data.url" : "check the network, or put the archive at this path yourself")
        }
    }

    /// Extracts from a .tar.gz the regular files whose last path component is in `names`,
    /// into `folder`. Returns the names extracted. Other members (and any path) are ignored, so
    /// an archive cannot write outside `folder`.
    /// Members are streamed from the inflating archive to their files, so memory stays bounded;
    /// the archive may inflate to `FileLimits.inflated` in all, and a wanted member may be
    /// `FileLimits.datasetFile` bytes at most (runner reads no larger dataset file).
    public static func extract(tarGz path: String, names: Set<String>, into folder: String) throws(DataError) -> [String] {
        let tar = try GzipReader(path: path, cap: FileLimits.inflated)
        var extracted: [String] = []
        var offset = 0
        /// Reads `count` bytes of the member announced at `offset` in pieces, writing them to
        /// `output` (the file extracted to `target`) when given, else skipping them; the archive
        /// ending first is an error.
        func pass(_ count: Int, of name: String, size: Int, at offset: Int, to output: (file: FileHandle, target: String)? = nil) throws(DataError) {
            var left = count
            while left > 0 {
                let piece = try tar.read(min(left, 1 << 20))
                if piece.isEmpty {
                    throw DataError(
                        file: path, offset: offset, "'\(name)' is cut short: \(size) bytes announced",
                        hint: "the archive is truncated: delete it to download it again")
                }
                if let output {
                    do { try output.file.write(contentsOf: piece) } catch {
                        throw DataError(
                            file: output.target, "cannot extract: \(error.localizedDescription)", hint: "check that data.root is writable and has room")
                    }
                }
                left -= piece.count
            }
        }
        while true {
            let header = try tar.read(512)
            if header.count < 512 || header.allSatisfy({ $0 == 0 }) { break }  // end of archive
            func field(_ start: Int, _ length: Int) -> String {
                let bytes = header[header.startIndex + start ..< header.startIndex + start + length].prefix { $0 != 0 }
                return String(decoding: bytes, as: UTF8.self)
            }
            let name = field(0, 100), prefix = field(345, 155)
            let sizeText = field(124, 12).trimmingCharacters(in: .whitespaces)
            guard let size = Int(sizeText, radix: 8), size >= 0 else {
                throw DataError(
                    file: path, offset: offset, "the tar header of '\(name)' has no valid size", hint: "the archive is damaged: delete it to download it again")
            }
            let type = header[header.startIndex + 156]
            let padded = (size + 511) / 512 * 512
            let base = ((prefix.isEmpty ? name : prefix + "/" + name) as NSString).lastPathComponent
            if (type == 0x30 || type == 0) && names.contains(base) {
                guard size <= FileLimits.datasetFile else {
                    throw DataError(
                        file: path, offset: offset,
                        "member '\(base)' announces \(FileLimits.byteCount(size)), more than the \(FileLimits.byteCount(FileLimits.datasetFile)) of "
                            + "any dataset file runner reads",
                        hint: "check data.url: it must be the dataset's archive")
                }
                let target = (folder as NSString).appendingPathComponent(base)
                let temporary = (folder as NSString).appendingPathComponent(".\(base).part")
                do {
                    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                    // Never through a link planted at the temporary's (predictable) name.
                    let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
                    guard descriptor >= 0 else {
                        throw DataError(
                            file: target, "cannot extract: cannot create \(temporary): \(String(cString: strerror(errno)))",
                            hint: "check that data.root is writable and has room")
                    }
                    try pass(size, of: name, size: size, at: offset, to: (FileHandle(fileDescriptor: descriptor, closeOnDealloc: true), target))
                    if rename(temporary, target) != 0 {
                        throw DataError(file: target, "cannot extract: \(String(cString: strerror(errno)))", hint: "check that data.root is writable")
                    }
                } catch let error as DataError {
                    unlink(temporary)
                    throw error
                } catch {
                    unlink(temporary)
                    throw DataError(file: target, "cannot extract: \(error.localizedDescription)", hint: "check that data.root is writable and has room")
                }
                extracted.append(base)
                if padded > size { _ = try tar.read(padded - size) }
            } else {
                try pass(padded, of: name, size: size, at: offset)
            }
            offset += 512 + padded
        }
        return extracted
    }
}

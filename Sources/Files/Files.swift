import Foundation

/// A file runner refused or could not read or write: the path, what is wrong, what to do.
/// Each module wraps it in its own located error (SpecError, DataError, CheckpointError).
public struct FileError: LocalizedError, CustomStringConvertible {
    public var path: String
    public var message: String
    public var hint: String
    /// The errno behind it, when a system call failed.
    public var code: Int32?
    public init(_ path: String, _ message: String, hint: String, code: Int32? = nil) {
        self.path = path; self.message = message; self.hint = hint; self.code = code
    }

    /// Whether the disk (or quota) is full: the write can succeed later without the user
    /// changing anything but space.
    public var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT }
    public var description: String { "\(path): error: \(message)\nhint: \(hint)" }
    public var errorDescription: String? { "\(path): \(message)" }
}

/// One policy for every file runner reads: the size comes from `fstat` before a byte is read,
/// and each kind of file has a cap, so a huge or endless input is refused rather than read
/// whole. The caps (documented in the README, "Limits") sit far above any real file of the kind.
public enum FileLimits {
    /// Experiment and model YAML (the largest shipped spec is 3 KB).
    public static let spec = 1 << 20
    /// summary.json (a 10,000-epoch history is about 4 MB).
    public static let summary = 16 << 20
    /// A checkpoint: 4 GiB (a billion floats), and never more than half the physical memory.
    public static var checkpoint: Int { min(4 << 30, Int(ProcessInfo.processInfo.physicalMemory / 2)) }
    /// A dataset file read whole: a CIFAR-10 batch (30 MB), an IDX file (47 MB), an image.
    public static let datasetFile = 256 << 20
    /// An image file for training or predict (PNG or JPEG).
    public static let imageFile = 64 << 20
    /// Decoded pixels of one image (width × height): 64 megapixels, e.g. 8192 × 8192.
    public static let imagePixels = 1 << 26
    /// A downloaded archive (CIFAR-10's is 170 MB).
    public static let download = 2 << 30
    /// All members of an archive inflated, together (CIFAR-10's tar is 184 MB).
    public static let inflated = 1 << 30

    /// Reads a regular file of at most `cap` bytes. `kind` names it in messages ("checkpoint").
    public static func read(_ path: String, cap: Int, kind: String) throws(FileError) -> Data {
        let (descriptor, size) = try open(path, cap: cap, kind: kind)
        defer { close(descriptor) }
        var data = Data(count: size)
        var done = 0
        let failure: Int32? = data.withUnsafeMutableBytes { bytes -> Int32? in
            let (count, failure) = fill(descriptor, bytes.baseAddress!, size)
            done = count
            return failure
        }
        if let failure { throw FileError(path, "cannot read the \(kind): \(String(cString: strerror(failure)))", hint: "check the disk") }
        return done == size ? data : data.prefix(done)
    }

    /// Reads a regular file of at most `cap` bytes in pieces of `chunk` bytes (the last may be
    /// shorter), handing `body` each piece, its offset and the file's size; `body` returns false
    /// to stop. A large file (a CIFAR-10 batch) is decoded without ever being held whole, so no
    /// transient buffer of its size is allocated and freed (glibc keeps such memory).
    public static func read(
        _ path: String, cap: Int, kind: String, chunk: Int, _ body: (UnsafeRawBufferPointer, _ offset: Int, _ size: Int) -> Bool
    ) throws(FileError) {
        let (descriptor, size) = try open(path, cap: cap, kind: kind)
        defer { close(descriptor) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: max(1, chunk), alignment: 16)
        defer { buffer.deallocate() }
        var offset = 0
        repeat {
            let (count, failure) = fill(descriptor, buffer, min(chunk, size - offset))
            if let failure { throw FileError(path, "cannot read the \(kind): \(String(cString: strerror(failure)))", hint: "check the disk") }
            guard body(UnsafeRawBufferPointer(start: buffer, count: count), offset, size), count > 0 else { return }
            offset += count
        } while offset < size
    }

    /// Opens a regular file and checks its size against `cap` before anything is read.
    static func open(_ path: String, cap: Int, kind: String) throws(FileError) -> (descriptor: Int32, size: Int) {
        let descriptor = Foundation.open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else {
            throw FileError(path, "cannot read the \(kind): \(String(cString: strerror(errno)))", hint: "check the path and its permissions")
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw FileError(path, "the \(kind) is not a regular file", hint: "give the path of a file, not a folder or device")
        }
        let size = Int(info.st_size)
        guard size <= cap else {
            close(descriptor)
            throw FileError(
                path, "the \(kind) is \(byteCount(size)), more than the \(byteCount(cap)) runner reads for one", hint: "check that this is the right file")
        }
        return (descriptor, size)
    }

    /// Reads up to `count` bytes into `target`, across short reads and interruptions; fewer
    /// only at the end of the file (one that shrank while being read). The errno of a failure.
    static func fill(_ descriptor: Int32, _ target: UnsafeMutableRawPointer, _ count: Int) -> (Int, Int32?) {
        var done = 0
        while done < count {
            let got = Foundation.read(descriptor, target + done, count - done)
            if got < 0 { if errno == EINTR { continue }; return (done, errno) }
            if got == 0 { break }
            done += got
        }
        return (done, nil)
    }

    /// "4.0 GiB", "512 KiB", "17 bytes".
    public static func byteCount(_ bytes: Int) -> String {
        if bytes >= 1 << 30 { return String(format: "%.1f GiB", Double(bytes) / Double(1 << 30)) }
        if bytes >= 1 << 20 { return String(format: "%.1f MiB", Double(bytes) / Double(1 << 20)) }
        if bytes >= 1 << 10 { return String(format: "%.1f KiB", Double(bytes) / Double(1 << 10)) }
        return "\(bytes) bytes"
    }
}

/// Writes `data` so that a crash at any moment leaves either the old file or the whole new
/// one (see `writeDurably(to:_:)`).
public func writeDurably(_ data: Data, to path: String) throws(FileError) {
    try writeDurably(to: path) { file throws(FileError) in try file.write(data) }
}

/// Writes what `produce` hands its `DurableFile`, piece by piece, so that a crash at any moment
/// leaves either the old file or the whole new one: a temporary file in the same folder with a
/// unique name (`mkstemp`: created exclusively, never an existing file or link), fsync, rename
/// over the target, fsync the folder. A large file (a checkpoint) is thus written from where
/// its values live, never assembled in memory. If `produce` throws, the temporary is removed
/// and the target left as it was.
public func writeDurably(to path: String, _ produce: (DurableFile) throws(FileError) -> Void) throws(FileError) {
    let folder = (path as NSString).deletingLastPathComponent
    var template = Array((folder.isEmpty ? "." : folder).utf8CString.dropLast()) + Array("/.\((path as NSString).lastPathComponent).tmp-XXXXXX".utf8CString)
    let descriptor = mkstemp(&template)
    guard descriptor >= 0 else {
        let code = errno; throw FileError(path, "cannot create a temporary file beside it: \(String(cString: strerror(code)))", hint: writeHint, code: code)
    }
    let temporary = String(decoding: template.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    fchmod(descriptor, 0o644)
    do throws(FileError) {
        try produce(DurableFile(descriptor: descriptor, path: path))
        guard fsync(descriptor) == 0 else {
            let code = errno; throw FileError(path, "cannot write: \(String(cString: strerror(code)))", hint: writeHint, code: code)
        }
    } catch {
        close(descriptor)
        unlink(temporary)
        throw error
    }
    close(descriptor)
    guard rename(temporary, path) == 0 else {
        let code = errno; unlink(temporary); throw FileError(path, "cannot write: \(String(cString: strerror(code)))", hint: writeHint, code: code)
    }
    let directory = open(folder.isEmpty ? "." : folder, O_RDONLY | O_CLOEXEC)
    if directory >= 0 { fsync(directory); close(directory) }
}

/// The temporary file `writeDurably(to:_:)` writes through.
public struct DurableFile {
    let descriptor: Int32
    let path: String

    /// Appends the bytes (every one, across short writes and interruptions).
    public func write(_ bytes: UnsafeRawBufferPointer) throws(FileError) {
        var written = 0
        while written < bytes.count {
            let result = Foundation.write(descriptor, bytes.baseAddress! + written, bytes.count - written)
            if result < 0 {
                if errno == EINTR { continue }
                let code = errno; throw FileError(path, "cannot write: \(String(cString: strerror(code)))", hint: writeHint, code: code)
            }
            written += result
        }
    }

    public func write(_ data: Data) throws(FileError) {
        let failure: FileError? = data.withUnsafeBytes { bytes in
            do throws(FileError) { try write(bytes) } catch { return error }
            return nil
        }
        if let failure { throw failure }
    }
}

let writeHint = "check that the folder exists, is writable and has room"

/// Whether a file name is one `writeDurably` leaves behind when killed mid-write.
public func isDurableTemporary(_ name: String) -> Bool { name.hasPrefix(".") && name.contains(".tmp-") }

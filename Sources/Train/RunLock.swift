import Files
import Foundation

/// An advisory lock on one run, so that two runner processes never train it at once. The
/// lock file sits beside the run directory (`runs/<name>/.<run>.lock`, so --restart may
/// delete the run) and holds the owner's PID. The kernel releases a flock when its holder
/// dies, so a crashed runner never leaves a run locked.
final class RunLock {
    struct Held: Error, CustomStringConvertible {
        var directory: String
        var holder: String
        var description: String {
            "\(directory): error: another runner (pid \(holder)) is training this run\nhint: wait for it to finish or stop it (kill -INT \(holder)); a "
                + "crashed holder releases the lock by itself"
        }
    }
    let descriptor: Int32

    init(_ directory: String) throws {
        let parent = (directory as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        let path = (parent as NSString).appendingPathComponent(".\((directory as NSString).lastPathComponent).lock")
        // Never through a link (a symlinked lock would let runner truncate the link's target),
        // and only a regular file.
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard descriptor >= 0 else {
            if errno == ELOOP { throw FileError(path, "the run's lock file is a symbolic link", hint: "remove it; runner creates its own") }
            throw posixFailure(path)
        }
        var info = stat()
        guard fstat(descriptor, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(descriptor)
            throw FileError(path, "the run's lock file is not a regular file", hint: "remove it; runner creates its own")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let count = pread(descriptor, &buffer, 32, 0)
            close(descriptor)
            let holder = String(decoding: buffer.prefix(max(count, 0)), as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw Held(directory: directory, holder: holder.isEmpty ? "unknown" : holder)
        }
        let pid = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = pwrite(descriptor, pid, pid.count, 0)
    }

    func release() {
        _ = ftruncate(descriptor, 0)
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}

func posixFailure(_ path: String) -> NSError {
    NSError(domain: NSPOSIXErrorDomain, code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "\(path): \(String(cString: strerror(errno)))"])
}

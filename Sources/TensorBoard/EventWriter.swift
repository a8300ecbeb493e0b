import Foundation
import SwiftProtobuf

/// Appends events to one TensorBoard event file,
/// `events.out.tfevents.<10-digit seconds>.<host>.<pid>.<n>`, in a run directory. The first
/// record is `file_version: "brain.Event:2"`. Every record goes to the file as soon as it is
/// written (one write call), so a live TensorBoard follows along and a crash loses nothing
/// before the last whole record.
public final class EventWriter {
    public let path: String
    private let handle: FileHandle

    /// Creates the directory if needed and a new file in it; a second writer in the same
    /// second and process gets the next `<n>`.
    public init(directory: String, wallTime: Date = Date()) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let seconds = String(format: "%010d", Int(wallTime.timeIntervalSince1970))
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "localhost"
        var index = 0
        var candidate: String
        repeat {
            candidate = (directory as NSString).appendingPathComponent("events.out.tfevents.\(seconds).\(host).\(getpid()).\(index)")
            index += 1
        } while FileManager.default.fileExists(atPath: candidate)
        path = candidate
        guard FileManager.default.createFile(atPath: path, contents: nil), let handle = FileHandle(forWritingAtPath: path) else {
            throw NSError(domain: NSPOSIXErrorDomain, code: Int(errno), userInfo: [NSLocalizedDescriptionKey: "\(path): cannot create the event file"])
        }
        self.handle = handle
        var first = Tensorboard_Event()
        first.wallTime = wallTime.timeIntervalSince1970
        first.fileVersion = "brain.Event:2"
        try write(first)
    }

    deinit { try? handle.close() }

    public func write(_ event: Tensorboard_Event) throws {
        try handle.write(contentsOf: Records.frame(try event.serializedData()))
    }

    /// Writes a summary event at `step`.
    public func write(_ values: [Tensorboard_Summary.Value], step: Int, wallTime: Date = Date()) throws {
        var event = Tensorboard_Event()
        event.wallTime = wallTime.timeIntervalSince1970
        event.step = Int64(step)
        event.summary = Tensorboard_Summary.with { $0.value = values }
        try write(event)
    }

    /// Makes the data durable (fsync); records already reach readers without it.
    public func sync() { try? handle.synchronize() }
}

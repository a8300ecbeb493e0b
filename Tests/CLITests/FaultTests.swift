import Foundation
import TensorBoard
import Testing
import Train

/// Mounts a tmpfs of `size` at `path` (root only; these tests need it).
func mountTmpfs(_ path: URL, options: String) throws {
    try FileManager.default.createDirectory(at: path, withIntermediateDirectories: true)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/mount")
    process.arguments = ["-t", "tmpfs", "-o", options, "tmpfs", path.path]
    try process.run()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw CocoaError(.fileWriteNoPermission, userInfo: [NSLocalizedDescriptionKey: "mount -t tmpfs failed: these tests run as root"])
    }
}

func unmount(_ path: URL) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/umount")
    process.arguments = [path.path]
    try? process.run()
    process.waitUntilExit()
}

@Suite("Faults", .serialized)
struct FaultTests {
    @Test("the disk fills mid-run: a clear error, the earlier checkpoints intact, no partial file")
    func diskFull() throws {
        let scratch = try scratchDirectory()
        let runs = scratch.appendingPathComponent("small")
        try mountTmpfs(runs, options: "size=4m")
        defer { unmount(runs); try? FileManager.default.removeItem(at: scratch) }
        let result = try runner(["configs/digits.yaml", "--runs", runs.path, "--set", "train.epochs=6", "--threads", "1"])
        #expect(result.status == 1)
        #expect(result.output.contains("could not be written") && result.output.contains("No space left on device"), "\(result.output)")
        #expect(result.output.contains("resumes from it once there is room"), "\(result.output)")
        let folder = runs.appendingPathComponent("digits/default/checkpoints")
        let names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        #expect(!names.isEmpty && names.allSatisfy { $0.hasPrefix("step-") }, "\(names)")  // no hidden temporary left
        for name in names { _ = try SafeTensors.decode(Data(contentsOf: folder.appendingPathComponent(name)), file: name) }
        #expect(try summary(runs.appendingPathComponent("digits/default")).status == .failed)
    }

    @Test("a read-only runs folder: a clear error, no crash")
    func readOnly() throws {
        let scratch = try scratchDirectory()
        let runs = scratch.appendingPathComponent("ro")
        try mountTmpfs(runs, options: "ro,size=1m")
        defer { unmount(runs); try? FileManager.default.removeItem(at: scratch) }
        let result = try runner(["configs/xo.yaml", "--runs", runs.path])
        #expect(result.status == 1)
        #expect(result.error.lowercased().replacingOccurrences(of: "-", with: " ").contains("read only"), "\(result.error)")
        #expect(result.error.contains("error: ") && result.error.contains("\nhint: check that the runs folder is writable"), "\(result.error)")
    }

    @Test("two runners on one run: the second refuses, naming the first's PID, exit 75 (EX_TEMPFAIL: nothing failed, try later)")
    func lock() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let runs = scratch.appendingPathComponent("runs").path
        let first = try launch(["configs/digits.yaml", "--runs", runs, "--threads", "1"], log: scratch.appendingPathComponent("log.txt"))
        usleep(700_000)
        let second = try runner(["configs/digits.yaml", "--runs", runs])
        kill(first.processIdentifier, SIGINT)
        first.waitUntilExit()
        #expect(second.status == 75)
        #expect(second.error.contains("error: another runner (pid \(first.processIdentifier)) is training this run"), "\(second.error)")
        // The holder is gone: the lock is free again.
        #expect(try runner(["configs/digits.yaml", "--runs", runs, "--set", "train.epochs=30"]).status == 0)
    }

    @Test("a dataset that changed under an interrupted run is detected on resume")
    func dataChanged() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let data = scratch.appendingPathComponent("cifar")
        try FileManager.default.createDirectory(at: data, withIntermediateDirectories: true)
        for (index, name) in ((1 ... 5).map { "data_batch_\($0).bin" } + ["test_batch.bin"]).enumerated() {
            var bytes = [UInt8]()
            for record in 0 ..< 20 { bytes.append(UInt8(record % 10)); bytes += (0 ..< 3072).map { UInt8(truncatingIfNeeded: $0 * 7 + record * 13 + index) } }
            try Data(bytes).write(to: data.appendingPathComponent(name))
        }
        try """
        name: tiny
        model: {input: [32, 32, 3], layers: [{conv: {filters: 2, kernel: 3, stride: 4}}, {flatten: {}}, {dense: {units: 10}}]}
        data: {dataset: cifar10, root: \(data.path), validation: 10}
        train: {epochs: 100000, batch_size: 30}
        tensorboard: false
        """.write(to: scratch.appendingPathComponent("tiny.yaml"), atomically: true, encoding: .utf8)
        let process = try launch(["tiny.yaml"], in: scratch, log: scratch.appendingPathComponent("log.txt"))
        usleep(800_000)
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 130)
        // Change one pixel of the training data.
        let file = data.appendingPathComponent("data_batch_3.bin")
        var bytes = try Data(contentsOf: file)
        bytes[100] ^= 0xFF
        try bytes.write(to: file)
        let resumed = try runner(["tiny.yaml"], in: scratch)
        #expect(resumed.status == 1)
        #expect(resumed.error.contains("error: the training data changed since this run started"), "\(resumed.error)")
        #expect(resumed.error.contains("hint: restore the dataset files"))
    }
}

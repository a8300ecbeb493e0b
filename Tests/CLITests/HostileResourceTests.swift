import Foundation
import Testing
import Train

/// Hostile inputs, continued: memory, time, downloads, sweeps and messages (findings 1, 3, 5, 8 and 9).
extension HostileInputTests {
    @Test("finding 5: a small JPEG declaring 65500×65500 pixels is refused from its header in bounded memory; a CMYK JPEG is named as such, not 'damaged'")
    func hugeAndCMYKImages() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (_, checkpoint) = try trainedXO(scratch)
        // A real 64×64 JPEG whose frame header (SOF0) is patched to declare 65500×65500.
        let make = """
            import sys
            from PIL import Image
            Image.new("L", (64, 64), 128).save(sys.argv[1], quality=90)
            data = bytearray(open(sys.argv[1], "rb").read())
            sof = data.index(b"\\xff\\xc0")
            data[sof + 5:sof + 9] = (65500).to_bytes(2, "big") * 2
            open(sys.argv[1], "wb").write(data)
            Image.new("CMYK", (16, 16), (0, 128, 255, 0)).save(sys.argv[2])
            """
        let huge = scratch.appendingPathComponent("huge.jpg"), cmyk = scratch.appendingPathComponent("cmyk.jpg")
        #expect(try python(make, [huge.path, cmyk.path]) == 0)
        let (predicted, usage) = try runnerWithUsage(["predict", checkpoint.path, huge.path, cmyk.path], in: scratch)
        #expect(predicted.status == 1)
        #expect(
            predicted.error.contains("\(huge.path): error: the image is 65500x65500 pixels, more than the 64 megapixels runner decodes"), "\(predicted.error)")
        #expect(predicted.error.contains("hint: scale the image down first"))
        #expect(predicted.error.contains("\(cmyk.path): error: the JPEG is in CMYK colour, which runner does not convert"), "\(predicted.error)")
        #expect(predicted.error.contains("hint: convert it to RGB"))
        #expect(usage.ru_maxrss < 512 * 1024, "peak RSS \(usage.ru_maxrss) KiB")
    }

    @Test(
        "finding 5: files over their kind's cap are refused by size before a byte is read (6 GB sparse checkpoint, 100 MB image, 1 GB summary.json)"
    )
    func oversizedFiles() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let (runs, checkpoint) = try trainedXO(scratch)
        let big = runs.appendingPathComponent("xo/default/checkpoints/step-999999.safetensors")
        #expect(FileManager.default.createFile(atPath: big.path, contents: nil))
        #expect(truncate(big.path, 6 << 30) == 0)
        let image = scratch.appendingPathComponent("big.png")
        #expect(FileManager.default.createFile(atPath: image.path, contents: nil))
        #expect(truncate(image.path, 100 << 20) == 0)
        let (predicted, usage) = try runnerWithUsage(["predict", big.path, image.path], in: repository)
        #expect(predicted.status == 2)
        #expect(predicted.error.contains("\(big.path): error: the checkpoint is 6.0 GiB, more than the"), "\(predicted.error)")
        #expect(usage.ru_maxrss < 256 * 1024, "peak RSS \(usage.ru_maxrss) KiB")
        let (imageOnly, imageUsage) = try runnerWithUsage(["predict", checkpoint.path, image.path], in: repository)
        #expect(imageOnly.status == 1)
        #expect(imageOnly.error.contains("\(image.path): error: the image is 100.0 MiB, more than the 64.0 MiB runner reads for one"), "\(imageOnly.error)")
        #expect(imageUsage.ru_maxrss < 256 * 1024, "peak RSS \(imageUsage.ru_maxrss) KiB")
        // A 1 GB summary.json is not read: the run reads as started without a summary.
        let summaryFile = runs.appendingPathComponent("xo/default/summary.json")
        #expect(truncate(summaryFile.path, 1 << 30) == 0)
        let (dry, dryUsage) = try runnerWithUsage(["configs/xo.yaml", "--runs", runs.path, "--set", "train.epochs=1", "--dry-run"], in: repository)
        #expect(dry.status == 0 && dry.output.contains("started, no summary"), "\(dry.output)\(dry.error)")
        #expect(dryUsage.ru_maxrss < 256 * 1024, "peak RSS \(dryUsage.ru_maxrss) KiB")
    }

    @Test("finding 5: SIGTERM during a download from a server that never stops: exit 143 within a second, bounded memory, no partial file")
    func sigtermDuringDownload() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let server = try LoopbackServer()
        defer { withExtendedLifetime(server) {} }  // serving until the test ends
        let data = scratch.appendingPathComponent("data")
        try Self.cifarSpec(root: data, url: "http://127.0.0.1:\(server.port)/cifar-10-binary.tar.gz")
            .write(to: scratch.appendingPathComponent("far.yaml"), atomically: true, encoding: .utf8)
        var signalled = Date()
        let (outcome, usage) = try runnerWithUsage(["far.yaml", "--runs", scratch.appendingPathComponent("runs").path], in: scratch) { pid in
            // Until the download is under way (the partial file exists and grows).
            let partial = data.appendingPathComponent(".cifar-10-binary.tar.gz.part").path
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline, ((try? FileManager.default.attributesOfItem(atPath: partial)[.size] as? Int) ?? 0) < 50 << 20 { usleep(20_000) }
            signalled = Date()
            kill(pid, SIGTERM)
        }
        let seconds = Date().timeIntervalSince(signalled)
        #expect(outcome.status == 143, "\(outcome.error)")
        #expect(seconds < 1, "exited \(seconds) s after SIGTERM")
        #expect(
            outcome.error.contains(
                "\(data.path)/cifar-10-binary.tar.gz: error: downloading http://127.0.0.1:\(server.port)/cifar-10-binary.tar.gz stopped by SIGTERM after"),
            "\(outcome.error)")
        #expect(usage.ru_maxrss < 512 * 1024, "peak RSS \(usage.ru_maxrss) KiB")
        #expect(try FileManager.default.contentsOfDirectory(atPath: data.path).isEmpty)
    }

    /// A spec training on `root`'s class folders at `input` (one epoch, tiny model).
    static func folderSpec(root: String, input: String = "[8, 8, 1]", sweep: String = "") -> String {
        """
        name: folders
        seed: 2
        model:
          input: \(input)
          layers: [{conv: {filters: 2, kernel: 3}}, {flatten: {}}, {dense: {units: 2}}]
        data: {dataset: image_folder, root: \(root), validation: 2}
        train: {epochs: 1, batch_size: 4, threads: 1}
        \(sweep)
        """
    }

    /// `count` gray PNGs of `size`×`size` in each of `classes` under `root`.
    static func makeFolders(_ root: URL, classes: [String], count: Int = 4, size: Int = 10) throws {
        for (index, name) in classes.enumerated() {
            let folder = root.appendingPathComponent(name)
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let script =
                "import sys\nfrom PIL import Image\nfor i in range(int(sys.argv[2])): Image.new('L', (int(sys.argv[4]), int(sys.argv[4])), "
                + "int(sys.argv[3]) + 9 * i).save(f'{sys.argv[1]}/{i}.png')"
            #expect(try python(script, [folder.path, String(count), String(40 + 100 * index), String(size)]) == 0)
        }
    }

    @Test(
        "finding 8: a class folder named in non-UTF-8 is an error showing its bytes, not a dropped class; an empty class folder is an error naming it"
    )
    func badClassFolders() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let root = scratch.appendingPathComponent("images")
        try Self.makeFolders(root, classes: ["cats", "dogs"])
        // A third class named by the bytes "bird\xFF" (Latin-1 ÿ, invalid UTF-8).
        let raw = Array(root.path.utf8) + Array("/bird".utf8) + [0xFF, 0]
        #expect(raw.withUnsafeBufferPointer { mkdir(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self), 0o755) } == 0)
        try Self.folderSpec(root: root.path).write(to: scratch.appendingPathComponent("folders.yaml"), atomically: true, encoding: .utf8)
        let bad = try runner(["folders.yaml", "--runs", "runs"], in: scratch)
        #expect(bad.status == 2)
        #expect(bad.error.contains(#"error: the entry named "bird\xFF" is not UTF-8 text or holds control characters"#), "\(bad.error)")
        #expect(raw.withUnsafeBufferPointer { rmdir(UnsafeRawPointer($0.baseAddress!).assumingMemoryBound(to: CChar.self)) } == 0)
        for name in try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("dogs").path) {
            try FileManager.default.removeItem(at: root.appendingPathComponent("dogs/\(name)"))
        }
        let empty = try runner(["folders.yaml", "--runs", "runs"], in: scratch)
        #expect(empty.status == 1)
        #expect(empty.error.contains("\(root.path)/dogs: error: the class folder 'dogs' holds no .png, .jpg or .jpeg files"), "\(empty.error)")
    }

    @Test("finding 3: sweep points differing only in model.input each train on images fitted to their own input: the same result serially as alone")
    func sweepOverInput() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let root = scratch.appendingPathComponent("images")
        try Self.makeFolders(root, classes: ["dark", "light"], count: 6, size: 16)
        try Self.folderSpec(root: root.path, sweep: "sweep:\n  model.input: [[8, 8, 1], [12, 12, 1]]")
            .write(to: scratch.appendingPathComponent("folders.yaml"), atomically: true, encoding: .utf8)
        let serial = try runner(["folders.yaml", "--runs", "serial"], in: scratch)
        #expect(serial.status == 0, "\(serial.error)")
        let alone = try runner(["folders.yaml", "--runs", "alone", "--only", "input=[12,12,1]"], in: scratch)
        #expect(alone.status == 0, "\(alone.error)")
        func history(_ runs: String) throws -> [[String: Any]] {
            let path = scratch.appendingPathComponent("\(runs)/folders/input=[12,12,1]/summary.json")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: path)) as? [String: Any])
            return try #require(summary["history"] as? [[String: Any]]).map { $0.filter { !["seconds", "images_per_second"].contains($0.key) } }
        }
        let a = try history("serial"), b = try history("alone")
        #expect(a.count == 1 && b.count == 1)
        #expect(NSDictionary(dictionary: a[0]).isEqual(to: b[0]), "serial \(a) alone \(b)")
    }

    @Test("finding 5: bench --batch 100000000 is refused with the memory it would need, not an abort in malloc")
    func benchBatch() throws {
        let bench = try runner(["bench", "configs/xo.yaml", "--batch", "100000000", "--steps", "1"])
        #expect(bench.status == 2)
        #expect(bench.error.hasPrefix("--batch 100000000: configs/xo.yaml:"), "\(bench.error)")
        #expect(bench.error.contains("error: the model needs up to") && bench.error.contains("hint: use a smaller --batch"), "\(bench.error)")
    }

    @Test(
        "finding 9: --set errors point at the flag, not x.yaml:1:1",
        arguments: [
            (["--set", "seeed=3"], "--set seeed=3:1:1: error: unknown key 'seeed' in the experiment"),
            (["--set", "seed=abc"], "--set seed=abc:1:1: error: 'seed' must be a whole number, got 'abc'"),
            (["--set", "train.epochs=2", "--set", "train.epochs=0"], "--set train.epochs=0:1:1: error: 'epochs' must be at least 1, got 0"),
        ])
    func setMessages(flags: [String], expected: String) throws {
        let result = try runner(["configs/xo.yaml", "--dry-run"] + flags)
        #expect(result.status == 2)
        #expect(result.error.hasPrefix(expected), "\(result.error)")
    }

    @Test("finding 9: a run folder that is a file, and a read-only checkpoints folder, each get a message that says so")
    func runFolderMessages() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let runs = scratch.appendingPathComponent("runs")
        try FileManager.default.createDirectory(at: runs.appendingPathComponent("xo"), withIntermediateDirectories: true)
        try Data().write(to: runs.appendingPathComponent("xo/default"))
        let file = try runner(["configs/xo.yaml", "--runs", runs.path, "--set", "train.epochs=1"])
        #expect(file.status == 1)
        #expect(file.error.contains("\(runs.path)/xo/default: error: this run's folder is a file\nhint: move or delete it"), "\(file.error)")
        #expect(!file.error.contains("NSCocoaErrorDomain"))
        try FileManager.default.removeItem(at: runs.appendingPathComponent("xo/default"))
        let checkpoints = runs.appendingPathComponent("xo/default/checkpoints")
        try mountTmpfs(checkpoints, options: "ro,size=1m")
        defer { unmount(checkpoints) }
        let readOnly = try runner(["configs/xo.yaml", "--runs", runs.path, "--set", "train.epochs=1"])
        #expect(readOnly.status == 1)
        #expect(
            readOnly.output.contains("Read-only file system")
                && readOnly.output.contains("resumes from it once runner can write to its checkpoints folder (check its permissions)"), "\(readOnly.output)")
        #expect(!readOnly.output.contains("once there is room"))
    }

    @Test(
        "acceptance: under RLIMIT_NPROC 1 (a non-root user; no thread can be created) a run neither hangs nor fails: it trains on the main thread and says so",
        .enabled(if: getuid() == 0, "needs root to run as another user (root ignores RLIMIT_NPROC)"))
    func noThreadsToSpare() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        // The user `nobody` may not reach the build folder (a clone under /root): copy what it runs.
        let binary = scratch.appendingPathComponent("runner"), spec = scratch.appendingPathComponent("xo.yaml")
        try FileManager.default.copyItem(at: runnerBinary, to: binary)
        try FileManager.default.copyItem(at: repository.appendingPathComponent("configs/xo.yaml"), to: spec)
        try FileManager.default.setAttributes([.posixPermissions: 0o777], ofItemAtPath: scratch.path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/timeout")
        process.arguments = [
            "120", "prlimit", "--nproc=1:1", "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
            binary.path, spec.path, "--set", "train.epochs=2", "--threads", "2", "--runs", scratch.appendingPathComponent("runs").path,
        ]
        process.environment = ["PATH": "/usr/bin:/bin"]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        try process.run()
        let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "exit \(process.terminationStatus) (124: it hung): \(text)")
        #expect(text.contains("warning: only 1 of 2 worker threads could be started (pthread_create: Resource temporarily unavailable); running 1"), "\(text)")
        #expect(text.contains("the batch-preparing thread could not be started"), "\(text)")
        #expect(try summary(scratch.appendingPathComponent("runs/xo/default")).status == .completed)
    }

    @Test("finding 1: a download URL whose last component hides %2F..%2F stores the archive in data.root under the default name; nothing lands outside")
    func encodedTraversal() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        let server = try LoopbackServer(bytes: 1000)
        defer { withExtendedLifetime(server) {} }  // serving until the test ends
        let data = scratch.appendingPathComponent("a/b/data")
        try Self.cifarSpec(root: data, url: "http://127.0.0.1:\(server.port)/x/..%2F..%2F..%2Fevil.tar.gz", sha256: String(repeating: "0", count: 64))
            .write(to: scratch.appendingPathComponent("far.yaml"), atomically: true, encoding: .utf8)
        let result = try runner(["far.yaml", "--runs", scratch.appendingPathComponent("runs").path], in: scratch)
        #expect(result.status == 1)
        #expect(result.error.contains("\(data.path)/cifar-10-binary.tar.gz: error: sha256 is"), "\(result.error)")
        let everything = FileManager.default.enumerator(atPath: scratch.path)?.allObjects as? [String] ?? []
        #expect(!everything.contains { $0.contains("evil") }, "\(everything)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: data.path) == ["cifar-10-binary.tar.gz"])
    }
}

import Foundation
import Testing

@testable import Datasets

@Suite("Downloads: SHA-256, tar extraction, a loopback HTTP server", .serialized)
struct DownloadTests {
    @Test("SHA-256 matches FIPS 180-4's test vectors, fed whole or in odd pieces")
    func sha256Vectors() {
        #expect(SHA256.hex(of: Data()) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex(of: Data("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        let message = Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(SHA256.hex(of: message) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var pieces = SHA256()
        let million = Data(repeating: UInt8(ascii: "a"), count: 1_000_000)
        var offset = 0
        for size in [1, 63, 64, 65, 1000, 7] where offset < million.count {
            pieces.update(million.subdata(in: offset ..< offset + size)); offset += size
        }
        pieces.update(million.subdata(in: offset ..< million.count))
        #expect(pieces.finalize() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// A small CIFAR-10 archive (20 records per batch file) made with the system's tar.
    func makeArchive(in folder: URL) throws -> (path: URL, sha256: String) {
        let inner = folder.appendingPathComponent("src/cifar-10-batches-bin")
        try FileManager.default.createDirectory(at: inner, withIntermediateDirectories: true)
        for (index, name) in ((1 ... 5).map { "data_batch_\($0).bin" } + ["test_batch.bin"]).enumerated() {
            var bytes = [UInt8]()
            for record in 0 ..< 20 {
                bytes.append(UInt8(record % 10))
                bytes += (0 ..< 3072).map { UInt8(truncatingIfNeeded: $0 &+ record &+ index) }
            }
            try Data(bytes).write(to: inner.appendingPathComponent(name))
        }
        try Data("airplane\n".utf8).write(to: inner.appendingPathComponent("batches.meta.txt"))
        let archive = folder.appendingPathComponent("serve/cifar-10-binary.tar.gz")
        try FileManager.default.createDirectory(at: archive.deletingLastPathComponent(), withIntermediateDirectories: true)
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        tar.arguments = ["tar", "czf", archive.path, "-C", folder.appendingPathComponent("src").path, "cifar-10-batches-bin"]
        try tar.run(); tar.waitUntilExit()
        try #require(tar.terminationStatus == 0)
        return (archive, SHA256.hex(of: try Data(contentsOf: archive)))
    }

    /// python3's http.server on 127.0.0.1 and a free port, serving `folder` (or, `endless`,
    /// Tests/Interop/endless_server.py, which sends zeros forever).
    final class Server {
        let process = Process()
        let port: Int
        init(serving folder: URL? = nil, endless: Bool = false) throws {
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent(
                "Interop/endless_server.py")
            process.arguments =
                endless
                ? ["python3", "-u", script.path]
                : ["python3", "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", folder!.path]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = FileHandle.nullDevice
            try process.run()
            // "Serving HTTP on 127.0.0.1 port 40123 (http://127.0.0.1:40123/) ..."
            var text = ""
            while !text.contains("port ") || !text.contains("(") {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                text += String(decoding: chunk, as: UTF8.self)
            }
            port = Int(text.components(separatedBy: "port ").dropFirst().first?.split(separator: " ").first ?? "") ?? 0
        }
        // SIGKILL: a child started from a test thread may inherit a mask that blocks SIGTERM.
        deinit { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("runner-download-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    @Test("a missing CIFAR-10 is downloaded over HTTP, checked, extracted and read; a second call downloads nothing")
    func downloadOverLoopback() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (archive, digest) = try makeArchive(in: folder)
        let root = folder.appendingPathComponent("root").path
        var lines: [String] = []
        do {
            let server = try Server(serving: archive.deletingLastPathComponent())
            try #require(server.port > 0)
            try CIFAR10.ensure(root: root, url: "http://127.0.0.1:\(server.port)/cifar-10-binary.tar.gz", sha256: digest) { lines.append($0) }
        }
        #expect(lines.first?.hasPrefix("Downloading http://127.0.0.1:") == true)
        let train = try CIFAR10.load(root: root, split: "train"), test = try CIFAR10.load(root: root, split: "test")
        #expect(train.count == 100 && test.count == 20)
        #expect(train.labels.prefix(3) == [0, 1, 2])
        // The server is gone: the files are there, so nothing is fetched.
        lines = []
        try CIFAR10.ensure(root: root, url: "http://127.0.0.1:9/none.tar.gz", sha256: digest) { lines.append($0) }
        #expect(lines.isEmpty)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root + "/cifar-10-batches-bin").filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty)
    }

    @Test("a download's file name comes from the URL only when it is a plain name: %-encoded separators and dots cannot climb out")
    func safeArchiveName() {
        let fallback = "cifar-10-binary.tar.gz"
        #expect(Download.safeFileName(fromURL: "https://example.org/data/cifar-10-binary.tar.gz", default: fallback) == "cifar-10-binary.tar.gz")
        #expect(Download.safeFileName(fromURL: "https://example.org/mirror_v2.tar.gz", default: fallback) == "mirror_v2.tar.gz")
        for hostile in [
            "https://example.org/x/%2E%2E%2F%2E%2E%2Fevil.tar.gz", "https://example.org/x/..%2Fevil", "https://example.org/%2Fetc%2Fpasswd",
            "https://example.org/..", "https://example.org/.hidden", "https://example.org/", "https://example.org/a%00b",
            "https://example.org/" + String(repeating: "a", count: 101), "not a url at all \u{1}",
        ] {
            #expect(Download.safeFileName(fromURL: hostile, default: fallback) == fallback, "\(hostile)")
        }
    }

    @Test("a wrong checksum is an error naming the file, both digests and what to do; nothing is extracted")
    func wrongChecksum() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (archive, digest) = try makeArchive(in: folder)
        let root = folder.appendingPathComponent("root").path
        let server = try Server(serving: archive.deletingLastPathComponent())
        let wrong = String(repeating: "0", count: 64)
        #expect {
            try CIFAR10.ensure(root: root, url: "http://127.0.0.1:\(server.port)/cifar-10-binary.tar.gz", sha256: wrong) { _ in }
        } throws: { error in
            let text = "\(error)"
            return text.hasPrefix("\(root)/cifar-10-binary.tar.gz: error: sha256 is \(digest), expected \(wrong)")
                && text.contains("hint: the file is damaged or not the expected archive")
        }
        #expect(!FileManager.default.fileExists(atPath: root + "/cifar-10-batches-bin"))
    }

    @Test("a truncated archive (right digest for its bytes) is an error with the byte offset; HTTP 404 names the status")
    func truncatedAndMissing() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let (archive, _) = try makeArchive(in: folder)
        let whole = try Data(contentsOf: archive)
        let cut = folder.appendingPathComponent("serve/cut.tar.gz")
        try whole.prefix(whole.count / 2).write(to: cut)
        let server = try Server(serving: archive.deletingLastPathComponent())
        let root = folder.appendingPathComponent("root").path
        #expect {
            try CIFAR10.ensure(root: root, url: "http://127.0.0.1:\(server.port)/cut.tar.gz", sha256: SHA256.hex(of: whole.prefix(whole.count / 2))) { _ in }
        } throws: { error in "\(error)".hasPrefix("\(root)/cut.tar.gz: byte ") && "\(error)".contains("corrupt or truncated") }
        #expect {
            try CIFAR10.ensure(
                root: folder.appendingPathComponent("other").path, url: "http://127.0.0.1:\(server.port)/absent.tar.gz",
                sha256: String(repeating: "a", count: 64)
            ) { _ in }
        } throws: { error in "\(error)".contains("HTTP 404") }
    }
}

extension DownloadTests {
    @Test("finding 5: a server that never stops sending is cut off at the cap with a message; nothing is left on disk")
    func endlessServer() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let server = try Server(endless: true)
        try #require(server.port > 0)
        let path = folder.appendingPathComponent("data/archive.tar.gz").path
        #expect {
            try Download.fetch("http://127.0.0.1:\(server.port)/archive.tar.gz", to: path, sha256: String(repeating: "0", count: 64), cap: 8 << 20) { _ in }
        } throws: { error in
            "\(error)".hasPrefix(
                "\(path): error: downloading http://127.0.0.1:\(server.port)/archive.tar.gz failed: the server sent more than 8.0 MiB, the most runner "
                    + "downloads"
            )
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("data").path).isEmpty)
    }

    /// A .tar.gz (made here with zlib through gunzip's inverse: Python) of one member.
    func tarGz(member: String, declaredSize: Int, actualBytes: Int, extra: [(String, Int)] = [], to url: URL) throws {
        let script = """
            import io, sys, tarfile, gzip
            out, name, declared, actual = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
            extra = [(sys.argv[i], int(sys.argv[i + 1])) for i in range(5, len(sys.argv), 2)]
            raw = io.BytesIO()
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as tar:
                for extra_name, size in extra:
                    info = tarfile.TarInfo(extra_name); info.size = size
                    tar.addfile(info, io.BytesIO(bytes(size)))
                info = tarfile.TarInfo(name); info.size = actual
                tar.addfile(info, io.BytesIO(bytes(actual)))
            data = bytearray(raw.getvalue())
            start = data.rindex(name.encode())  # the member's header: patch its size field
            data[start + 124:start + 136] = b"%011o\\0" % declared
            data[start + 148:start + 156] = b"        "
            data[start + 148:start + 156] = b"%06o\\0 " % sum(data[start:start + 512])
            open(out, "wb").write(gzip.compress(bytes(data), 9))
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script, url.path, member, String(declaredSize), String(actualBytes)] + extra.flatMap { [$0.0, String($0.1)] }
        try process.run(); process.waitUntilExit()
        try #require(process.terminationStatus == 0)
    }

    @Test("finding 5: archive members are streamed to disk; a member announcing more than any dataset file, or an archive inflating past the cap, is refused")
    func archiveBombs() throws {
        let folder = try scratch()
        defer { try? FileManager.default.removeItem(at: folder) }
        let huge = folder.appendingPathComponent("huge.tar.gz")
        try tarGz(member: "cifar-10-batches-bin/data_batch_1.bin", declaredSize: 3 << 30, actualBytes: 3073, to: huge)
        #expect {
            _ = try Download.extract(tarGz: huge.path, names: ["data_batch_1.bin"], into: folder.appendingPathComponent("out").path)
        } throws: { error in
            "\(error)".hasPrefix(
                "\(huge.path): byte 0: error: member 'data_batch_1.bin' announces 3.0 GiB, more than the 256.0 MiB of any dataset file runner reads")
        }
        #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("out/data_batch_1.bin").path))
        // 300 MB of zeros inflate from 300 KB; with a 64 MiB cap the reader stops early.
        let zeros = folder.appendingPathComponent("zeros.gz")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import gzip, sys; open(sys.argv[1], 'wb').write(gzip.compress(bytes(300 << 20), 9))", zeros.path]
        try process.run(); process.waitUntilExit()
        #expect { _ = try gunzip(Data(contentsOf: zeros), file: zeros.path, cap: 64 << 20) } throws: { error in
            "\(error)".hasPrefix("\(zeros.path): error: the data inflates to more than 64.0 MiB, the most runner inflates from one file")
        }
    }
}

@Suite("MNIST-format IDX files")
struct IDXTests {
    func gzip(_ data: Data, to url: URL) throws {
        try data.write(to: url.deletingPathExtension())
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["gzip", "-f", url.deletingPathExtension().path]
        try process.run(); process.waitUntilExit()
    }

    func images(_ count: Int) -> Data {
        var bytes: [UInt8] = [0, 0, 8, 3, 0, 0, 0, UInt8(count), 0, 0, 0, 28, 0, 0, 0, 28]
        for i in 0 ..< count * 784 { bytes.append(UInt8(truncatingIfNeeded: i)) }
        return Data(bytes)
    }

    func labels(_ values: [UInt8]) -> Data { Data([0, 0, 8, 1, 0, 0, 0, UInt8(values.count)] + values) }

    @Test("a missing MNIST is downloaded file by file over HTTP, checked and decoded; a bad label is an error at its offset")
    func download() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("runner-idx-\(UUID().uuidString)")
        let serve = folder.appendingPathComponent("serve")
        try FileManager.default.createDirectory(at: serve, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try gzip(images(3), to: serve.appendingPathComponent("train-images-idx3-ubyte.gz"))
        try gzip(labels([7, 0, 9]), to: serve.appendingPathComponent("train-labels-idx1-ubyte.gz"))
        try gzip(images(2), to: serve.appendingPathComponent("t10k-images-idx3-ubyte.gz"))
        try gzip(labels([1, 12]), to: serve.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
        var digests: [String: String] = [:]
        for name in ["train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
            digests[name] = SHA256.hex(of: try Data(contentsOf: serve.appendingPathComponent(name)))
        }
        let server = try DownloadTests.Server(serving: serve)
        let root = folder.appendingPathComponent("root").path
        var lines: [String] = []
        let train = try IDXDataset.mnist.load(root: root, split: "train", url: "http://127.0.0.1:\(server.port)", checksums: digests) { lines.append($0) }
        #expect(train.count == 3 && train.labels == [7, 0, 9] && train.shape == [28, 28, 1])
        #expect(train.images[1] == 1 / 255 && train.images[784] == Float(784 % 256) / 255)
        #expect(lines.filter { $0.hasPrefix("Downloading") }.count == 2)
        #expect {
            try IDXDataset.mnist.load(root: root, split: "test", url: "http://127.0.0.1:\(server.port)", checksums: digests) { _ in }
        } throws: { error in
            "\(error)"
                == "\(root)/t10k-labels-idx1-ubyte.gz: byte 9: error: label 12 is out of range 0…9\nhint: the file is damaged: delete it to download it again"
        }
        // The published digests are what an unconfigured download is checked against.
        #expect {
            try IDXDataset.fashionMNIST.load(root: folder.appendingPathComponent("f").path, split: "train", url: "http://127.0.0.1:\(server.port)") { _ in }
        } throws: { error in "\(error)".contains("expected 3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84") }
    }
}

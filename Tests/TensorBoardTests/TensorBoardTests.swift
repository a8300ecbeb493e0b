import Foundation
import TensorBoard
import Testing

func hex(_ data: Data) -> String { data.map { String(format: "%02x", $0) }.joined() }

@Suite("TensorBoard's format")
struct FormatTests {
    @Test("CRC-32C test vectors")
    func crc() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.checksum([UInt8](repeating: 0, count: 32)) == 0x8A91_36AA)
    }

    @Test("the first record of a file, byte for byte")
    func firstRecord() throws {
        var event = Tensorboard_Event()
        event.wallTime = 1.0
        event.fileVersion = "brain.Event:2"
        let record = Records.frame(try event.serializedData())
        #expect(hex(record) == "1800000000000000" + "a37f4b22" + "09000000000000f03f1a0d627261696e2e4576656e743a32" + "86bf577a")
    }

    @Test("an event file reads back: framing, checksums and every protobuf")
    func roundTrip() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("tb-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let writer = try EventWriter(directory: directory)
        #expect((writer.path as NSString).lastPathComponent.range(of: #"^events\.out\.tfevents\.\d{10}\.[^.]+\.\d+\.0$"#, options: .regularExpression) != nil)
        let values: [Float] = [0, 1, 1, 2, 3, 10]
        try writer.write([Summaries.scalar("loss", 0.25), values.withUnsafeBufferPointer { Summaries.histogram("w", $0, buckets: 5) }], step: 7)
        try writer.write([Summaries.text("config", "# hello"), Summaries.sessionStart(hparams: ["lr": .number(0.1), "opt": .string("adam")])], step: 0)
        let records = try Records.read(Data(contentsOf: URL(fileURLWithPath: writer.path)), file: writer.path)
        #expect(records.count == 3)
        let events = try records.map { try Tensorboard_Event(serializedBytes: $0) }
        #expect(events[0].fileVersion == "brain.Event:2")
        #expect(events[1].step == 7 && events[1].summary.value[0].simpleValue == 0.25)
        let histogram = events[1].summary.value[1].histo
        #expect(histogram.min == 0 && histogram.max == 10 && histogram.num == 6 && histogram.sum == 17)
        #expect(histogram.bucketLimit == [2, 4, 6, 8, 10])
        #expect(histogram.bucket == [4, 1, 0, 0, 1])  // (−∞, 2], (2, 4], …: 0 1 1 2 | 3 | 10
        #expect(events[2].summary.value[0].tensor.stringVal == [Data("# hello".utf8)])
        let plugin = events[2].summary.value[1].metadata.pluginData
        #expect(plugin.pluginName == "hparams")
        let start = try Tensorboard_HParamsPluginData(serializedBytes: plugin.content).sessionStartInfo
        #expect(start.hparams["lr"]?.numberValue == 0.1 && start.hparams["opt"]?.stringValue == "adam")
    }

    @Test("a file cut mid-record reads up to the cut; a flipped byte is an error at its record")
    func damage() throws {
        var data = Data()
        for step in 0 ..< 3 {
            var event = Tensorboard_Event()
            event.step = Int64(step)
            event.summary = Tensorboard_Summary.with { $0.value = [Summaries.scalar("x", Double(step))] }
            data.append(Records.frame(try event.serializedData()))
        }
        let cut = data.prefix(data.count - 5)
        #expect(try Records.read(cut, file: "f").count == 2)
        var flipped = data
        flipped[flipped.count - 6] ^= 0xFF
        #expect { _ = try Records.read(flipped, file: "f") } throws: { ($0 as? EventFileError)?.message == "the record's checksum does not match" }
    }

    @Test("regression (found by fuzz-events): a whole header followed by fewer than 4 bytes is a partial record, not a crash")
    func shortTail() throws {
        let bytes = Data([0x18, 0, 0, 0, 0, 0, 0, 0, 0xA3, 0x7F, 0x4B, 0x22, 0x09])
        #expect(try Records.read(bytes, file: "f").isEmpty)
        for cut in 0 ... 16 { _ = try? Records.read(bytes.prefix(cut), file: "f") }
    }

    @Test("PNG: signature, IHDR and zlib-compressed scanlines that decode to the pixels")
    func png() throws {
        let pixels: [UInt8] = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]
        let png = encodePNG(width: 2, height: 2, channels: 3, pixels: pixels)
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(String(decoding: png[12 ..< 16], as: UTF8.self) == "IHDR")
        #expect(Array(png[16 ..< 24]) == [0, 0, 0, 2, 0, 0, 0, 2])
        #expect(png[24] == 8 && png[25] == 2)  // 8-bit RGB
        #expect(String(decoding: png.suffix(8).prefix(4), as: UTF8.self) == "IEND")
    }
}

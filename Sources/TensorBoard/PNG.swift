import CZlib
import Foundation

/// Encodes 8-bit gray (1 channel), RGB (3) or RGBA (4) pixels, row-major, as PNG: the
/// signature, IHDR, one IDAT of zlib-compressed scanlines (filter type 0 each), IEND; each
/// chunk's CRC-32 from zlib.
public func encodePNG(width: Int, height: Int, channels: Int, pixels: [UInt8]) -> Data {
    precondition(
        [1, 3, 4].contains(channels) && pixels.count == width * height * channels, "PNG: \(width)×\(height)×\(channels) does not match \(pixels.count) bytes")
    var png = Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    func chunk(_ type: String, _ body: Data) {
        withUnsafeBytes(of: UInt32(body.count).bigEndian) { png.append(contentsOf: $0) }
        let typed = Data(type.utf8) + body
        png.append(typed)
        let crc = typed.withUnsafeBytes { crc32(0, $0.bindMemory(to: UInt8.self).baseAddress, uInt($0.count)) }
        withUnsafeBytes(of: UInt32(crc).bigEndian) { png.append(contentsOf: $0) }
    }
    var header = Data()
    withUnsafeBytes(of: UInt32(width).bigEndian) { header.append(contentsOf: $0) }
    withUnsafeBytes(of: UInt32(height).bigEndian) { header.append(contentsOf: $0) }
    header.append(contentsOf: [8, channels == 1 ? 0 : (channels == 3 ? 2 : 6), 0, 0, 0])
    chunk("IHDR", header)
    var raw = [UInt8]()
    raw.reserveCapacity((width * channels + 1) * height)
    for row in 0 ..< height {
        raw.append(0)
        raw.append(contentsOf: pixels[row * width * channels ..< (row + 1) * width * channels])
    }
    var compressedLength = compressBound(uLong(raw.count))
    var compressed = [UInt8](repeating: 0, count: Int(compressedLength))
    let status = compress2(&compressed, &compressedLength, raw, uLong(raw.count), 6)
    precondition(status == Z_OK, "zlib compress2 failed: \(status)")
    chunk("IDAT", Data(compressed[0 ..< Int(compressedLength)]))
    chunk("IEND", Data())
    return png
}

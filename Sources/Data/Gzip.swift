import CZlib
import Foundation

/// Decompresses a gzip stream with zlib (windowBits 16 + 15 selects the gzip wrapper).
func gunzip(_ compressed: Data, file: String) throws(DataError) -> Data {
    var stream = z_stream()
    guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
        throw DataError(file: file, "zlib could not start", hint: "reinstall zlib1g")
    }
    defer { inflateEnd(&stream) }
    var output = Data()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    var input = [UInt8](compressed)
    let status: Int32 = input.withUnsafeMutableBufferPointer { source in
        stream.next_in = source.baseAddress
        stream.avail_in = uInt(source.count)
        var status: Int32 = Z_OK
        repeat {
            chunk.withUnsafeMutableBufferPointer { target in
                stream.next_out = target.baseAddress
                stream.avail_out = uInt(target.count)
                status = inflate(&stream, Z_NO_FLUSH)
                output.append(target.baseAddress!, count: target.count - Int(stream.avail_out))
            }
        } while status == Z_OK
        return status
    }
    guard status == Z_STREAM_END else {
        throw DataError(file: file, offset: Int(stream.total_in), "the gzip data is corrupt or truncated", hint: "replace the file with a good copy")
    }
    return output
}

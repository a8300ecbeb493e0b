import CZlib
import Files
import Foundation

/// Decompresses a gzip stream with zlib (windowBits 16 + 15 selects the gzip wrapper),
/// refusing to inflate past `cap` bytes: a few kilobytes can declare gigabytes (a "zip bomb").
func gunzip(_ compressed: Data, file: String, cap: Int = FileLimits.datasetFile) throws(DataError) -> Data {
    let reader = try GzipReader(data: compressed, file: file, cap: cap)
    var output = Data()
    while true {
        let chunk = try reader.read(1 << 20)
        if chunk.isEmpty { break }
        output.append(chunk)
    }
    return output
}

/// Inflates a gzip stream piece by piece, from memory or from a file read 1 MiB at a time, so
/// that an archive of any size is read in bounded memory. More than `cap` inflated bytes is an
/// error naming the file.
final class GzipReader {
    private var stream = z_stream()
    private let file: String
    private let cap: Int
    private let handle: FileHandle?
    private var input: [UInt8]
    private var consumed = 0
    private var finished = false
    private(set) var inflated = 0

    /// Reads `path` (a file).
    convenience init(path: String, cap: Int) throws(DataError) {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw DataError(file: path, "cannot read the archive", hint: "delete it to download it again")
        }
        try self.init(handle: handle, data: Data(), file: path, cap: cap)
    }

    /// Reads `data` (bytes already in memory; `file` names them in messages).
    convenience init(data: Data, file: String, cap: Int) throws(DataError) {
        try self.init(handle: nil, data: data, file: file, cap: cap)
    }

    private init(handle: FileHandle?, data: Data, file: String, cap: Int) throws(DataError) {
        self.handle = handle; self.file = file; self.cap = cap
        input = [UInt8](data)
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw DataError(file: file, "zlib could not start", hint: "reinstall zlib1g")
        }
    }

    deinit { inflateEnd(&stream); try? handle?.close() }

    /// Up to `count` inflated bytes; fewer only at the end of the stream, empty after it.
    func read(_ count: Int) throws(DataError) -> Data {
        var output = Data(count: count)
        var produced = 0
        while produced < count && !finished {
            if consumed == input.count {  // every byte read so far is inflated: read on
                guard let handle else { break }
                input = [UInt8](handle.readData(ofLength: 1 << 20))
                consumed = 0
                if input.isEmpty { break }
            }
            let status: Int32 = input.withUnsafeMutableBufferPointer { source in
                output.withUnsafeMutableBytes { target in
                    stream.next_in = source.baseAddress! + consumed
                    stream.avail_in = uInt(source.count - consumed)
                    stream.next_out = target.baseAddress!.assumingMemoryBound(to: Bytef.self) + produced
                    stream.avail_out = uInt(count - produced)
                    let status = inflate(&stream, Z_NO_FLUSH)
                    consumed = source.count - Int(stream.avail_in)
                    produced = count - Int(stream.avail_out)
                    return status
                }
            }
            if status == Z_STREAM_END { finished = true } else if status != Z_OK { throw corrupt() }
        }
        if produced < count && !finished { throw corrupt() }  // the input ended inside the stream
        inflated += produced
        guard inflated <= cap else {
            throw DataError(
                file: file, "the data inflates to more than \(FileLimits.byteCount(cap)), the most runner inflates from one file",
                hint: "this is not the dataset file expected (a compression bomb?): check data.url and delete the file")
        }
        return output.prefix(produced)
    }

    private func corrupt() -> DataError {
        DataError(file: file, offset: Int(stream.total_in), "the gzip data is corrupt or truncated", hint: "replace the file with a good copy")
    }
}

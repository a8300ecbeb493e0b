import Foundation

/// TFRecord framing, the container of TensorBoard's event files. Each record is
///   uint64 length (little-endian) · uint32 masked CRC-32C of those 8 bytes ·
///   length bytes of data · uint32 masked CRC-32C of the data.
public enum Records {
    public static func frame(_ data: Data) -> Data {
        var record = Data(capacity: data.count + 16)
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian) { Data($0) }
        record.append(length)
        withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { record.append(contentsOf: $0) }
        record.append(data)
        withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { record.append(contentsOf: $0) }
        return record
    }

    /// Reads every whole record of a file's bytes. A partial trailing record (a writer that
    /// was stopped mid-write) ends the list; a corrupted one is an error naming its offset.
    public static func read(_ bytes: Data, file: String) throws(EventFileError) -> [Data] {
        var records: [Data] = []
        var offset = bytes.startIndex
        func uint32(_ at: Int) -> UInt32 { bytes[at ..< at + 4].enumerated().reduce(0) { $0 | UInt32($1.element) << (8 * UInt32($1.offset)) } }
        while bytes.endIndex - offset >= 12 {
            let lengthBytes = bytes[offset ..< offset + 8]
            guard CRC32C.masked(lengthBytes) == uint32(offset + 8) else {
                throw EventFileError(file: file, offset: offset - bytes.startIndex, message: "the length's checksum does not match")
            }
            let length = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
            // A partial trailing record (the writer was stopped mid-write) ends the file.
            let remaining = bytes.endIndex - offset
            guard remaining >= 16, length <= UInt64(remaining - 16) else { break }
            let start = offset + 12, end = start + Int(length)
            let data = bytes[start ..< end]
            guard CRC32C.masked(data) == uint32(end) else {
                throw EventFileError(file: file, offset: start - bytes.startIndex, message: "the record's checksum does not match")
            }
            records.append(Data(data))
            offset = end + 4
        }
        return records
    }
}

/// An event file that cannot be read: the file, the byte offset and what is wrong.
public struct EventFileError: Error, CustomStringConvertible {
    public var file: String
    public var offset: Int
    public var message: String
    public var description: String { "\(file): byte \(offset): error: \(message)\nhint: the file is damaged after this point; earlier records are intact" }
}

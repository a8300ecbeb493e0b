import Files
import Foundation

/// The safetensors format (readable with Python's `safetensors`, numpy or PyTorch):
///   8 bytes: header length N (little-endian UInt64)
///   N bytes: JSON {"name": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...,
///            "__metadata__": {"key": "string value", ...}}, padded with spaces to 8 bytes
///   data:    every tensor's little-endian bytes, offsets relative to the data start.
/// Only F32 tensors are written; metadata values are strings, as the format requires.
public struct SafeTensors {
    public struct Tensor {
        public var shape: [Int]
        public var values: [Float]
        public init(shape: [Int], values: [Float]) { self.shape = shape; self.values = values }
    }

    /// Tensors in the order they are written.
    public var names: [String]
    public var tensors: [String: Tensor]
    public var metadata: [String: String]

    public init(names: [String] = [], tensors: [String: Tensor] = [:], metadata: [String: String] = [:]) {
        self.names = names; self.tensors = tensors; self.metadata = metadata
    }

    public mutating func add(_ name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
        precondition(shape.reduce(1, *) == values.count, "\(name): shape \(shape) does not hold \(values.count) values")
        names.append(name)
        tensors[name] = Tensor(shape: shape, values: Array(values))
    }

    /// The file's bytes.
    public func encoded() -> Data {
        var data = SafeTensors.header(names.map { ($0, tensors[$0]!.shape) }, metadata: metadata)
        for name in names {
            // Floats are little-endian on every platform runner builds for (x86-64, arm64).
            tensors[name]!.values.withUnsafeBytes { data.append(contentsOf: $0) }
        }
        return data
    }

    /// A tensor lent for writing rather than copied: its values stay where they live (a
    /// plan's arena, an optimizer's moments) while `write(_:metadata:to:)` streams them.
    public struct Lent {
        public var name: String
        public var shape: [Int]
        public var values: UnsafeBufferPointer<Float>
        public init(_ name: String, shape: [Int], values: UnsafeBufferPointer<Float>) {
            self.name = name; self.shape = shape; self.values = values
        }
    }

    /// Writes the file `encoded()` would make of these tensors, header first, then each
    /// tensor's bytes straight from where it lives: nothing the size of the file is allocated.
    public static func write(_ tensors: [Lent], metadata: [String: String], to file: DurableFile) throws(FileError) {
        try file.write(header(tensors.map { ($0.name, $0.shape) }, metadata: metadata))
        for tensor in tensors { try file.write(UnsafeRawBufferPointer(tensor.values)) }
    }

    /// The 8-byte length and the JSON header (padded with spaces to 8 bytes) of tensors written
    /// in this order, each F32 of its shape.
    static func header(_ tensors: [(name: String, shape: [Int])], metadata: [String: String]) -> Data {
        var header: [String: Any] = ["__metadata__": metadata]
        var offset = 0
        for (name, shape) in tensors {
            let bytes = shape.reduce(1, *) * 4
            header[name] = ["dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = (try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data("{}".utf8)
        while json.count % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var data = Data(capacity: 8 + json.count)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { data.append(contentsOf: $0) }
        data.append(json)
        return data
    }

    /// Parses a file's bytes; every problem names the file and, where there is one, the byte offset.
    public static func decode(_ data: Data, file: String) throws(CheckpointError) -> SafeTensors {
        guard data.count >= 8 else { throw CheckpointError(file: file, offset: 0, "the file is \(data.count) bytes, shorter than the 8-byte header length") }
        let headerLength = data.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) }
        guard headerLength <= UInt64(data.count - 8), headerLength <= 100_000_000 else {
            throw CheckpointError(file: file, offset: 0, "the header length \(headerLength) exceeds the file (\(data.count) bytes)")
        }
        let headerData = data.subdata(in: 8 ..< 8 + Int(headerLength))
        guard let object = try? JSONSerialization.jsonObject(with: headerData), let header = object as? [String: Any] else {
            throw CheckpointError(file: file, offset: 8, "the header is not a JSON object")
        }
        let dataStart = 8 + Int(headerLength)
        let dataLength = data.count - dataStart
        var result = SafeTensors()
        if let metadata = header["__metadata__"] {
            guard let strings = metadata as? [String: String] else { throw CheckpointError(file: file, offset: 8, "__metadata__ must map strings to strings") }
            result.metadata = strings
        }
        // JSONSerialization keeps the last of two equal keys; a second tensor of one name would
        // vanish unseen (Python's safetensors refuses such files: one tensor's bytes go unused).
        if let duplicate = firstDuplicateKey(headerData) {
            throw CheckpointError(file: file, offset: 8, "the header names tensor '\(duplicate)' twice")
        }
        var entries: [(String, Int, Int, [Int])] = []
        for (name, value) in header where name != "__metadata__" {
            guard let entry = value as? [String: Any], let dtype = entry["dtype"] as? String,
                let shape = entry["shape"] as? [Int], let offsets = entry["data_offsets"] as? [Int], offsets.count == 2
            else {
                throw CheckpointError(file: file, offset: 8, "tensor '\(name)' lacks dtype, shape or data_offsets")
            }
            guard dtype == "F32" else { throw CheckpointError(file: file, offset: 8, "tensor '\(name)' is \(dtype); runner reads F32 only") }
            var count = 1
            for dimension in shape {
                let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
                if dimension < 0 || overflow || product > dataLength { count = -1; break }
                count = product
            }
            guard count >= 0, offsets[0] >= 0, offsets[0] <= offsets[1], offsets[1] <= dataLength, offsets[1] - offsets[0] == count * 4 else {
                throw CheckpointError(
                    file: file, offset: dataStart + max(0, min(offsets[0], dataLength)),
                    "tensor '\(name)' with shape \(shape) does not fit its data_offsets \(offsets) in \(dataLength) data bytes")
            }
            entries.append((name, offsets[0], offsets[1], shape))
        }
        // As Python's safetensors requires: the tensors' byte ranges tile the data exactly, in
        // offset order, with no overlap, gap or trailing bytes.
        entries.sort { ($0.1, $0.2) < ($1.1, $1.2) }
        var covered = 0
        for (index, (name, begin, end, _)) in entries.enumerated() {
            if begin < covered {
                let previous = entries[index - 1]
                throw CheckpointError(
                    file: file, offset: dataStart + begin, "tensors '\(previous.0)' [\(previous.1), \(previous.2)) and '\(name)' [\(begin), \(end)) overlap")
            }
            guard begin == covered else {
                throw CheckpointError(file: file, offset: dataStart + covered, "data bytes [\(covered), \(begin)) belong to no tensor")
            }
            covered = end
        }
        guard covered == dataLength else {
            throw CheckpointError(file: file, offset: dataStart + covered, "data bytes [\(covered), \(dataLength)) after the last tensor belong to no tensor")
        }
        for (name, begin, end, shape) in entries {
            var values = [Float](repeating: 0, count: (end - begin) / 4)
            values.withUnsafeMutableBytes { target in
                data.copyBytes(to: target.bindMemory(to: UInt8.self), from: dataStart + begin ..< dataStart + end)
            }
            result.names.append(name)
            result.tensors[name] = Tensor(shape: shape, values: values)
        }
        return result
    }
}

/// The first key that occurs twice in the top-level object of a JSON document, or nil. Keys are
/// compared decoded ("a" and "\\u0061" are one key); the document is assumed to parse.
func firstDuplicateKey(_ json: Data) -> String? {
    let bytes = [UInt8](json)
    var depth = 0, index = 0, expectingKey = false
    var seen = Set<String>()
    while index < bytes.count {
        let byte = bytes[index]
        switch byte {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            depth += 1
            expectingKey = depth == 1 && byte == UInt8(ascii: "{")
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            depth -= 1
        case UInt8(ascii: ","):
            expectingKey = depth == 1
        case UInt8(ascii: "\""):
            var end = index + 1
            while end < bytes.count && bytes[end] != UInt8(ascii: "\"") { end += bytes[end] == UInt8(ascii: "\\") ? 2 : 1 }
            if expectingKey {
                let literal = Data(bytes[index ... min(end, bytes.count - 1)])
                if let key = try? JSONSerialization.jsonObject(with: literal, options: .fragmentsAllowed) as? String, !seen.insert(key).inserted {
                    return key
                }
                expectingKey = false
            }
            index = end
        default: break
        }
        index += 1
    }
    return nil
}

/// A checkpoint that cannot be used: names the file, the byte offset when there is one, what is
/// wrong, and what to do.
public struct CheckpointError: Error, CustomStringConvertible {
    public var file: String
    public var offset: Int?
    public var message: String
    public var hint: String
    public init(
        file: String, offset: Int? = nil, _ message: String, hint: String = "delete this checkpoint to fall back to an earlier one, or run with --restart"
    ) {
        self.file = file; self.offset = offset; self.message = message; self.hint = hint
    }
    public var description: String {
        "\(offset.map { "\(file): byte \($0)" } ?? file): error: \(message)\nhint: \(hint)"
    }
}

import Foundation
import TensorBoard

/// libFuzzer target: any bytes as an event file. Records must read or throw EventFileError,
/// and each record's Event must decode or throw.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzEvents(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    for record in (try? Records.read(bytes, file: "fuzz.tfevents")) ?? [] {
        _ = try? Tensorboard_Event(serializedBytes: record)
    }
    return 0
}

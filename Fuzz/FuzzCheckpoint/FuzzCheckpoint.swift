import Foundation
import Train

/// libFuzzer target: any bytes as a checkpoint file. It must decode or throw CheckpointError.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCheckpoint(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    _ = try? SafeTensors.decode(bytes, file: "fuzz.safetensors")
    return 0
}

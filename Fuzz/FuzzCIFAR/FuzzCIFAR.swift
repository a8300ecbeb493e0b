import Datasets
import Foundation

/// libFuzzer target: any bytes as a CIFAR-10 batch file. It must decode or throw DataError.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzCIFAR(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    _ = try? CIFAR10.decode(bytes, file: "fuzz.bin")
    return 0
}

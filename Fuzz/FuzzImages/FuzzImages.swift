import Datasets
import Foundation

/// libFuzzer target: any bytes as a PNG/JPEG image (libpng, libjpeg-turbo behind runner's C
/// shim, then the resize) and as IDX image and label files. Each must decode or throw DataError.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzImages(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Data(bytes: $0, count: size) } ?? Data()
    _ = try? Images.decode(bytes, file: "fuzz", shape: [7, 9, 3], fit: .crop)
    _ = try? Images.decode(bytes, file: "fuzz", shape: [4, 4, 1], fit: .stretch)
    _ = try? IDXDataset.decodeImages(bytes, file: "fuzz")
    _ = try? IDXDataset.decodeLabels(bytes, file: "fuzz", classes: 10)
    return 0
}

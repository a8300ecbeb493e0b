import Foundation
import Testing

@testable import Datasets

@Suite("Image folders in their own bytes")
struct ImageStorageTests {
    @Test(
        "an image of the model's size resamples to exactly byte / 255, so holding its bytes changes no float",
        arguments: [
            (5, 4, 3, Images.Fit.stretch), (32, 32, 3, .crop), (8, 8, 1, .stretch), (7, 3, 1, .crop),
        ])
    func resamplingAtTheSameSize(height: Int, width: Int, channels: Int, fit: Images.Fit) {
        let bytes = (0 ..< height * width * channels).map { UInt8(($0 * 97 + 13) % 256) }
        let resampled = bytes.withUnsafeBufferPointer {
            Images.resample($0.baseAddress!, width: width, height: height, channels: channels, to: [height, width, channels], fit: fit)
        }
        #expect(resampled == bytes.map { Float($0) / 255 })
        #expect(resampled == Images.Pixels.bytes(bytes).floats)
    }
}

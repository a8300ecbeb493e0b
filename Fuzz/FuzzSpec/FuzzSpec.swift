import Foundation
import Spec
import Train

/// libFuzzer target: any bytes as an experiment file. It must produce a spec or a SpecError,
/// never a crash, a hang or a sanitizer report.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzSpec(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    do {
        let node = try SpecNode.parse(yaml: text, file: "fuzz.yaml")
        _ = try Experiment(spec: try ExperimentSpec(node, directory: "/nonexistent"))
    } catch {}
    return 0
}

import Foundation
import SpecCorpus
import Testing
import Train

@testable import Spec

/// Writes `yaml` as `dir/x.yaml` (and any extra files), loads it, and returns the error.
func loadError(_ yaml: String, extra: [String: String] = [:]) throws -> SpecError? {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("runner-spec-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    for (name, text) in extra { try text.write(to: directory.appendingPathComponent(name), atomically: true, encoding: .utf8) }
    let path = directory.appendingPathComponent("x.yaml").path
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    do {
        _ = try Experiment.load(path: path)
        return nil
    } catch {
        var located = error
        // Messages name the file; tests compare positions within it.
        located.location.file = (error.location.file as NSString).lastPathComponent
        return located
    }
}

extension MalformedCase: CustomTestStringConvertible {}

@Suite("Malformed specs")
struct MalformedSpecTests {
    @Test("each gets one located message with a hint", arguments: malformedCases)
    func located(_ testCase: MalformedCase) throws {
        let error = try #require(try loadError(testCase.yaml, extra: testCase.extra), "\(testCase.what): loaded without error")
        let printed = "\(error.location): error: \(error.message)"
        #expect(printed.hasPrefix(testCase.expected), "\(testCase.what)")
        #expect(error.hint.hasPrefix(testCase.hint), "\(testCase.what): hint was \(error.hint)")
    }

    @Test("the valid base spec and the shipped configs load")
    func validLoads() throws {
        #expect(try loadError(validSpec) == nil)
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        for name in ["digits", "xo", "cifar10_seed", "cifar10_seed_faithful"] {
            _ = try Experiment.load(path: root.appendingPathComponent("configs/\(name).yaml").path)
        }
    }

    @Test("there are at least 20 malformed cases")
    func count() { #expect(malformedCases.count >= 20) }
}

@Suite("Run names from sweep values")
struct RunNameTests {
    @Test("a sweep point's run name never holds a path separator, a leading dot or a control character (issue 13, findings 6 and 9)")
    func safeRunNames() {
        #expect(sanitized("root=../x") == "root=.._x")
        #expect(sanitized("../up") == "_.._up")
        #expect(sanitized("fit=a\u{1B}[2Jb\u{0}") == "fit=a_[2Jb_")
        #expect(sanitized(String(repeating: "x", count: 300)).count == 200)
    }
}

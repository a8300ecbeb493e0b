import Foundation
import SpecCorpus
import Testing

@Suite("Hostile specs")
struct HostileSpecTests {
    @Test("at least 50 hostile specs: each a located error within a second, in bounded memory, nothing written")
    func hostile() throws {
        #expect(hostileSpecs.count >= 50)
        for testCase in hostileSpecs {
            let directory = try scratchDirectory()
            defer { try? FileManager.default.removeItem(at: directory) }
            try Data(testCase.bytes).write(to: directory.appendingPathComponent("x.yaml"))
            let start = Date()
            let result = try runner(["x.yaml", "--runs", "out"], in: directory)
            let seconds = Date().timeIntervalSince(start)
            var usage = rusage()
            getrusage(RUSAGE_CHILDREN.rawValue, &usage)
            #expect(result.status == 2, "\(testCase.what): status \(result.status) \(result.error)")
            let firstLine = result.error.split(separator: "\n").first.map(String.init) ?? ""
            #expect(firstLine.hasPrefix("x.yaml" + testCase.expected), "\(testCase.what): \(firstLine)")
            #expect(result.error.contains("\nhint: "), "\(testCase.what): no hint")
            #expect(seconds < 1, "\(testCase.what): \(seconds) s")
            #expect(usage.ru_maxrss < 512 * 1024, "\(testCase.what): peak \(usage.ru_maxrss) KB")
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path), "\(testCase.what) wrote runs/")
        }
    }
}

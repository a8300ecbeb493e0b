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
            let (result, usage) = try runnerWithUsage(["x.yaml", "--runs", "out"], in: directory)
            let seconds = Date().timeIntervalSince(start)
            #expect(result.status == 2, "\(testCase.what): status \(result.status) \(result.error)")
            let firstLine = result.error.split(separator: "\n").first.map(String.init) ?? ""
            #expect(firstLine.hasPrefix("x.yaml" + testCase.expected), "\(testCase.what): \(firstLine)")
            #expect(result.error.contains("\nhint: "), "\(testCase.what): no hint")
            #expect(seconds < 1, "\(testCase.what): \(seconds) s")
            #expect(usage.ru_maxrss > 1024 && usage.ru_maxrss < 512 * 1024, "\(testCase.what): peak \(usage.ru_maxrss) KB")
            #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path), "\(testCase.what) wrote runs/")
        }
    }
}

/// Runs the binary like `runner(_:in:)` and returns its own resource usage (wait4's, for this
/// child alone: RUSAGE_CHILDREN would include the children of tests running alongside). Linux
/// counts into a spawned child's ru_maxrss the resident size of the test process it was spawned
/// from (posix_spawn shares its memory until exec), so the test process must stay small too.
/// `whileRunning`, when given, is called with the child's pid right after it starts (to signal it).
func runnerWithUsage(_ arguments: [String], in directory: URL, whileRunning: ((pid_t) -> Void)? = nil) throws -> (Outcome, rusage) {
    let outputURL = directory.appendingPathComponent(".stdout"), errorURL = directory.appendingPathComponent(".stderr")
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, outputURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errorURL.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    // A shell that changes folder and then becomes runner (exec keeps the pid, so wait4
    // reports runner's own usage).
    let argv = (["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", directory.path, runnerBinary.path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid = pid_t()
    let spawned = posix_spawn(&pid, "/bin/sh", &actions, nil, argv, environ)
    guard spawned == 0 else { throw POSIXError(POSIXErrorCode(rawValue: spawned) ?? .EIO) }
    whileRunning?(pid)
    var status: Int32 = 0, usage = rusage()
    while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
    defer { try? FileManager.default.removeItem(at: outputURL); try? FileManager.default.removeItem(at: errorURL) }
    let exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let outcome = Outcome(
        status: exitStatus, output: (try? String(contentsOf: outputURL, encoding: .utf8)) ?? "",
        error: (try? String(contentsOf: errorURL, encoding: .utf8)) ?? "")
    return (outcome, usage)
}

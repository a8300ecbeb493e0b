import Foundation
import SpecCorpus
import Testing

/// check-jsonschema (from the test venv) on files against a schema: each file's fate by name
/// (nil: valid, else the best deep match's message).
func jsonSchemaErrors(schema: URL, files: [URL]) throws -> [String: String?] {
    let tool = repository.appendingPathComponent(".venv-test/bin/check-jsonschema")
    try #require(FileManager.default.isExecutableFile(atPath: tool.path), "run scripts/test.sh: it makes .venv-test with check-jsonschema")
    let process = Process()
    process.executableURL = tool
    process.arguments = ["--schemafile", schema.path, "-o", "JSON"] + files.map(\.path)
    let output = Pipe()
    process.standardOutput = output
    process.standardError = FileHandle.nullDevice
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    struct Report: Decodable {
        struct Failure: Decodable {
            struct Match: Decodable { var message: String }
            var filename: String
            var message: String
            var best_deep_match: Match?
        }
        var errors: [Failure]
        var parse_errors: [Failure]?
    }
    let report = try JSONDecoder().decode(Report.self, from: data)
    var fates: [String: String?] = Dictionary(uniqueKeysWithValues: files.map { ($0.lastPathComponent, nil) })
    for failure in report.errors + (report.parse_errors ?? []) {
        let name = URL(fileURLWithPath: failure.filename).lastPathComponent
        if fates[name] == .some(nil) { fates[name] = failure.best_deep_match?.message ?? failure.message }
    }
    return fates
}

@Suite("JSON Schema of the spec")
struct SchemaTests {
    let experimentSchema = repository.appendingPathComponent("schema/experiment.json")
    let modelSchema = repository.appendingPathComponent("schema/model.json")

    @Test("the committed schemas are what `runner schema` prints now")
    func committedCopies() throws {
        for (arguments, file) in [(["schema"], experimentSchema), (["schema", "--model"], modelSchema)] {
            let printed = try runner(arguments)
            #expect(printed.status == 0)
            let committed = try String(contentsOf: file, encoding: .utf8)
            #expect(printed.output == committed, "\(file.lastPathComponent) is out of date: run scripts/update-spec-reference.sh")
        }
    }

    @Test("every shipped config and model file names its schema in a modeline and validates against it")
    func shippedConfigs() throws {
        let configs = repository.appendingPathComponent("configs"), models = configs.appendingPathComponent("models")
        func yamlFiles(_ folder: URL) throws -> [URL] {
            try FileManager.default.contentsOfDirectory(at: folder, includingPropertiesForKeys: nil).filter { $0.pathExtension == "yaml" }
        }
        for (files, schema, modeline) in [
            (try yamlFiles(configs), experimentSchema, "# yaml-language-server: $schema=../schema/experiment.json"),
            (try yamlFiles(models), modelSchema, "# yaml-language-server: $schema=../../schema/model.json"),
        ] {
            #expect(!files.isEmpty)
            for file in files {
                let text = try String(contentsOf: file, encoding: .utf8)
                #expect(text.split(separator: "\n").first.map(String.init) == modeline, "\(file.lastPathComponent)")
            }
            for (name, error) in try jsonSchemaErrors(schema: schema, files: files) { #expect(error == nil, "\(name): \(error ?? "")") }
        }
    }

    @Test("the schema rejects each malformed spec whose mistake is a schema's (unknown key, wrong type, unknown kind, missing key)")
    func malformedCorpus() throws {
        let scratch = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: scratch) }
        var files: [URL] = [], cases: [String: MalformedCase] = [:]
        for (index, malformed) in malformedCases.enumerated() where malformed.schemaLevel && malformed.extra.isEmpty {
            let file = scratch.appendingPathComponent("case\(index).yaml")
            try malformed.yaml.write(to: file, atomically: true, encoding: .utf8)
            files.append(file)
            cases[file.lastPathComponent] = malformed
        }
        let valid = scratch.appendingPathComponent("valid.yaml")
        try validSpec.write(to: valid, atomically: true, encoding: .utf8)
        #expect(files.count >= 12)
        let fates = try jsonSchemaErrors(schema: experimentSchema, files: files + [valid])
        #expect(fates["valid.yaml"] == .some(nil), "the valid spec the cases vary must pass: \(String(describing: fates["valid.yaml"]))")
        for (name, malformed) in cases { #expect(fates[name] != .some(nil), "the schema accepts '\(malformed.what)'") }
    }
}

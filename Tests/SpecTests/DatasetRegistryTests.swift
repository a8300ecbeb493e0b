import Datasets
import Spec
import Testing

@Suite("Every registered dataset kind")
struct DatasetRegistryTests {
    @Test("names are unique and snake_case; the keys each takes are ones the spec reader reads")
    func namesAndKeys() {
        let names = DatasetRegistry.names
        #expect(Set(names).count == names.count)
        for kind in DatasetRegistry.kinds {
            #expect(kind.name.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) != nil, "\(kind.name)")
            let unread = Set(kind.keys).subtracting(DataSpec.datasetKeys)
            #expect(unread.isEmpty, "\(kind.name) takes \(unread.sorted()), which DataSpec does not read")
            #expect(kind.readsFiles || kind.defaultRoot == nil, "\(kind.name) has a default root but takes no root")
        }
    }

    @Test("a spec naming the kind reads back with the kind's defaults, and refuses another kind's keys", arguments: DatasetRegistry.names)
    func specDefaults(name: String) throws {
        let kind = try #require(DatasetRegistry.kind(named: name))
        let root = kind.readsFiles && kind.defaultRoot == nil ? ", root: somewhere" : ""
        let spec = try ExperimentSpec(
            SpecNode.parse(yaml: "model: {input: [4], layers: [{dense: {units: 2}}]}\ndata: {dataset: \(name)\(root)}\n", file: "x.yaml"),
            directory: "/tmp")
        #expect(spec.data.kind.name == kind.name)
        #expect(spec.data.validation == kind.defaultValidation)
        if let defaultRoot = kind.defaultRoot { #expect(spec.data.root == defaultRoot) }
        for other in DataSpec.datasetKeys where !kind.keys.contains(other) {
            #expect(throws: SpecError.self, "\(name) accepted \(other)") {
                try ExperimentSpec(
                    SpecNode.parse(yaml: "model: {input: [4], layers: [{dense: {units: 2}}]}\ndata: {dataset: \(name)\(root), \(other): 1}\n", file: "x.yaml"),
                    directory: "/tmp")
            }
        }
    }
}

@Suite("Parameter group patterns")
struct ParameterGroupTests {
    @Test("* matches any run of characters, ? one character, everything else itself")
    func glob() {
        let location = SpecLocation(file: "x.yaml", line: 1, column: 1)
        func matches(_ pattern: String, _ name: String) -> Bool { ParameterGroup(parameters: pattern, location: location).matches(name) }
        #expect(matches("*/beta", "bn1/beta"))
        #expect(matches("conv?/*", "conv2/weight"))
        #expect(matches("*", "dense1/bias"))
        #expect(matches("c*v*/w*t", "conv12/weight"))
        #expect(!matches("*/beta", "bn1/gamma"))
        #expect(!matches("conv?/*", "conv12/weight"))
        #expect(!matches("dense1/bias", "dense1/bias2"))
        #expect(matches("", "") && !matches("", "a"))
    }
}

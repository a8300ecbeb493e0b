import Spec
import Testing
import Yams

/// The declarations (Spec/Declarations.swift) are what `runner spec` prints and `runner
/// schema` states; these tests hold the readers to them.
@Suite("Spec declarations")
struct DeclarationsTests {
    /// A spec giving every section but none of its keys, with each variant that has options.
    static func resolved(optimizer: String, schedule: String) throws -> Node {
        let yaml = """
            model: {input: [12, 12, 1], layers: [flatten, {dense: {units: 2}}]}
            data: {dataset: xo, augment: {}}
            train: {optimizer: \(optimizer), schedule: \(schedule), lookahead: {}}
            checkpoint: {}
            tensorboard: {}
            early_stopping: {}
            """
        let spec = try ExperimentSpec(SpecNode.parse(yaml: yaml, file: "x.yaml"), directory: "/tmp")
        return try #require(try Yams.compose(yaml: spec.resolvedYAML()))
    }

    /// Compares each declared default under `keys` with the resolved config's value at the
    /// same place; returns how many it compared.
    static func compare(_ keys: [SpecKey], _ node: Node?, path: String) -> Int {
        var compared = 0
        for key in keys {
            let value = node?.mapping?[Node(key.key)]
            switch key.value {
            case .mapping(let children, _):
                compared += compare(children, value, path: path + key.key + ".")
            case .anyOf:
                if case .mapping(let children, _) = key.value.mappingOrSelf { compared += compare(children, value, path: path + key.key + ".") }
            default:
                guard let expected = key.defaultValue, let written = value?.scalar?.string else { continue }
                switch expected {
                case .int(let number): #expect(Int(written) == number, "\(path)\(key.key): declared \(number), read \(written)")
                case .number(let number): #expect(Double(written) == number, "\(path)\(key.key): declared \(number), read \(written)")
                case .bool(let flag): #expect(written == String(flag), "\(path)\(key.key): declared \(flag), read \(written)")
                case .string(let word): #expect(written == word, "\(path)\(key.key): declared \(word), read \(written)")
                default: continue
                }
                compared += 1
            }
        }
        return compared
    }

    @Test("each declared default is the value the reader fills in (the resolved config)")
    func defaults() throws {
        var compared = 0
        for (optimizer, schedule) in [("{adam: {}}", "{cosine: {}}"), ("{sgd: {}}", "{linear: {}}"), ("{adamw: {}}", "{steps: {at_epochs: [3]}}")] {
            let node = try Self.resolved(optimizer: optimizer, schedule: schedule)
            compared += Self.compare(Declarations.experiment.filter { $0.key != "data" }, node, path: "")
            compared += Self.compare(Declarations.dataCommon, node.mapping?["data"], path: "data.")
            for (section, key) in [("optimizer", Declarations.optimizer), ("schedule", Declarations.schedule)] {
                let chosen = try #require(node.mapping?["train"]?.mapping?[Node(section)]?.mapping)
                let name = try #require(chosen.keys.first?.string)
                compared += Self.compare(key.keys(variant: name).map { key[$0, variant: name] }, chosen[Node(name)], path: "train.\(section).\(name).")
            }
        }
        #expect(compared >= 60, "compared \(compared) defaults")
    }

    @Test("the defaults a section takes when it is left out are its declared ones")
    func standards() throws {
        let spec = try ExperimentSpec(
            SpecNode.parse(yaml: "model: {input: [4], layers: [{dense: {units: 2}}]}\ndata: {dataset: xo}\ncheckpoint: {}\ntensorboard: {}\n", file: "x.yaml"),
            directory: "/tmp")
        #expect(spec.tensorboard == TensorBoardSpec.standard)
        #expect(spec.checkpoint == CheckpointSpec.standard)
    }

    @Test("the reference prints every declared key")
    func reference() {
        let text = SpecReference.text()
        for key in Declarations.experiment + Declarations.dataCommon + Declarations.datasetKeys {
            #expect(text.contains("\n" + key.key + ":") || text.contains("  " + key.key + ":") || text.hasPrefix(key.key), "\(key.key)")
        }
    }
}

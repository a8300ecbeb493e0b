import Foundation
import Layers
import Tensor

/// A network as written: the input shape and the layer list, each layer located in its file.
public struct ModelSpec {
    /// The file the model came from (the experiment's own file when inline).
    public var file: String
    public var input: Shape
    public var inputLocation: SpecLocation
    public var layers: [LayerSpec]
}

/// One entry of `layers:`.
public struct LayerSpec {
    public var kind: String
    /// `name:` as written, or nil (the graph names it `<kind><n>`).
    public var name: String?
    /// `inputs:` as written (names and where each is), or nil for "the previous layer".
    public var inputs: [(name: String, location: SpecLocation)]?
    public var layer: any Layer
    public var location: SpecLocation
}

extension ModelSpec {
    static let keys = ["input", "layers"]

    /// Reads `{input: [h, w, c], layers: [...]}`.
    public init(_ node: SpecNode, what: String = "model") throws(SpecError) {
        let map = try node.mapping(what, allowed: ModelSpec.keys)
        file = node.file
        guard let inputNode = map["input"] else { throw map.missing("input") }
        inputLocation = inputNode.location
        let dimensions = try inputNode.sequence("input")
        guard (1 ... 3).contains(dimensions.count) else {
            throw SpecError(
                inputLocation, "'input' must list 1 to 3 sizes, got \(dimensions.count)", hint: "for example input: [32, 32, 3] (height, width, channels)")
        }
        var sizes: [Int] = []
        for dimension in dimensions {
            let size = try dimension.int("input")
            guard size > 0 && size <= 1 << 20 else {
                throw SpecError(dimension.location, "each 'input' size must be between 1 and \(1 << 20), got \(size)", hint: "for example input: [32, 32, 3]")
            }
            sizes.append(size)
        }
        input = Shape(sizes)
        guard let layersNode = map["layers"] else { throw map.missing("layers") }
        let items = try layersNode.sequence("layers")
        guard !items.isEmpty else { throw SpecError(layersNode.location, "'layers' is empty", hint: "list at least one layer, e.g. - dense: {units: 10}") }
        layers = []
        for item in items { layers.append(try LayerSpec(item)) }
    }
}

extension LayerSpec {
    /// Reads `- kind: {options}` (or a bare `- kind` for kinds without options).
    init(_ node: SpecNode) throws(SpecError) {
        location = node.location
        let kindNode: SpecNode, optionsNode: SpecNode?
        switch node.node {
        case .scalar:
            kindNode = node; optionsNode = nil
        case .mapping(let mapping) where mapping.count == 1:
            let (key, value) = mapping.first!
            kindNode = SpecNode(node: key, file: node.file)
            optionsNode = SpecNode(node: value, file: node.file)
        case .mapping:
            throw SpecError(
                location, "a layer entry must have exactly one key, the layer kind",
                hint: "write '- conv: {filters: 32, kernel: 3}' with the options inside the braces")
        default:
            throw SpecError(
                location, "a layer entry must be a mapping like '- conv: {filters: 32, kernel: 3}'",
                hint: "known kinds: \(LayerRegistry.names.joined(separator: ", "))")
        }
        guard let name = kindNode.scalarText, let type = LayerRegistry.kind(named: name) else {
            let written = kindNode.scalarText ?? "?"
            let known = "known kinds: \(LayerRegistry.names.joined(separator: ", "))"
            throw SpecError(
                kindNode.location, "unknown layer kind '\(written)'",
                hint: suggestion(for: written, among: LayerRegistry.names).map { "did you mean '\($0)'? \(known)" } ?? known)
        }
        kind = name
        let allowed = ["name", "inputs"] + type.optionKeys.map(\.key)
        let options = try (optionsNode ?? SpecNode(node: "", file: node.file)).mapping(name, allowed: allowed)
        if let nameNode = options["name"] {
            let given = try nameNode.string("name")
            guard given.range(of: "^[A-Za-z_][A-Za-z0-9_.-]*$", options: .regularExpression) != nil, given != "input" else {
                throw SpecError(
                    nameNode.location, "'\(given)' cannot name a layer",
                    hint: "use letters, digits and _ . - starting with a letter; 'input' is reserved for the model input")
            }
            self.name = given
        } else {
            self.name = nil
        }
        if let inputsNode = options["inputs"] {
            let list = inputsNode.scalarText != nil ? [inputsNode] : try inputsNode.sequence("inputs")
            var inputs: [(name: String, location: SpecLocation)] = []
            for entry in list { inputs.append((try entry.string("inputs"), entry.location)) }
            guard type.inputCount.contains(inputs.count) else {
                throw SpecError(
                    inputsNode.location, "\(name) takes \(Self.describe(type.inputCount)), got \(inputs.count)",
                    hint: "list the names of the layers it reads, e.g. inputs: [a, b]")
            }
            self.inputs = inputs
        } else {
            guard type.inputCount.contains(1) else {
                throw SpecError(
                    location, "\(name) takes \(Self.describe(type.inputCount)) and needs 'inputs:'",
                    hint: "name the layers it joins, e.g. - \(name): {inputs: [a, b]}")
            }
            self.inputs = nil
        }
        do {
            layer = try type.init(options: options)
        } catch let error as SpecError {
            throw error
        } catch {
            throw SpecError(location, "\(error)", hint: "")
        }
    }

    static func describe(_ range: ClosedRange<Int>) -> String {
        range.lowerBound == range.upperBound
            ? "\(range.lowerBound) input\(range.lowerBound == 1 ? "" : "s")" : "\(range.lowerBound) to \(range.upperBound) inputs"
    }
}

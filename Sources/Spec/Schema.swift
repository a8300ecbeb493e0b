import Datasets
import Layers

/// JSON Schemas (draft 2020-12) of experiment and model files, generated from the declarations
/// the readers use (`Declarations`, each layer kind's `LayerOption`s, each dataset kind's keys),
/// for editors with the YAML language server (completion, hover docs, mistakes as you type) and
/// for `check-jsonschema`. The schema states types, bounds, allowed keys and required keys;
/// what needs more than one file to judge (shapes, layer names, a validation split larger than
/// the data) is left to `runner check`.
public enum SpecSchema {
    public static let draft = "https://json-schema.org/draft/2020-12/schema"

    /// The schema of an experiment file (the model inline or as a path).
    public static func experiment() -> JSONValue {
        var members: [JSONValue.Member] = [
            .init("$schema", .string(draft)), .init("$id", "https://runner.invalid/schema/experiment.json"),
            .init("title", "runner experiment"),
            .init(
                "description",
                "An experiment file: what to train (model), on what (data) and how (train, checkpoint, ...). `runner spec` prints the same reference."),
        ]
        members += mappingMembers(Declarations.experiment, required: ["model", "data"])
        members.append(.init("$defs", .object([.init("model", modelBody()), .init("layer", layer())])))
        return .object(members)
    }

    /// The schema of a model file (`model: models/x.yaml`).
    public static func model() -> JSONValue {
        var members: [JSONValue.Member] = [
            .init("$schema", .string(draft)), .init("$id", "https://runner.invalid/schema/model.json"), .init("title", "runner model"),
        ]
        if case .object(let body) = modelBody() { members += body }
        members.append(.init("$defs", .object([.init("layer", layer())])))
        return .object(members)
    }

    /// `{input: [h, w, c], layers: [...]}`.
    static func modelBody() -> JSONValue {
        let size = JSONValue.object(["type": "integer", "minimum": 1, "maximum": .int(1 << 20)])
        return .object([
            "type": "object", "description": "a network: the input shape and the layers (a chain; name: and inputs: make a DAG)",
            "properties": .object([
                "input": .object([
                    "type": "array", "items": size, "minItems": 1, "maxItems": 3, "description": "[height, width, channels], or [features]",
                ]),
                "layers": .object(["type": "array", "minItems": 1, "items": .object(["$ref": "#/$defs/layer"])]),
            ]),
            "required": ["input", "layers"], "additionalProperties": false,
        ])
    }

    /// One entry of `layers:`: `{kind: {options}}`, or a bare kind that needs no options.
    static func layer() -> JSONValue {
        var choices: [JSONValue] = []
        let kinds = LayerRegistry.kinds.sorted { $0.kind < $1.kind }
        let bare = kinds.filter { !$0.optionKeys.contains(where: \.isRequired) }.map { JSONValue.string($0.kind) }
        choices.append(.object(["enum": .array(bare), "description": "a kind with every option at its default"]))
        for kind in kinds {
            var properties: [JSONValue.Member] = [
                .init(
                    "name",
                    .object(["type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_.-]*$", "description": "the layer's name (default: kind and count, conv1)"])),
                .init(
                    "inputs",
                    .object([
                        "anyOf": [.object(["type": "string"]), .object(["type": "array", "items": .object(["type": "string"])])],
                        "description": "the layers it reads (default: the one before; 'input' is the network input)",
                    ])),
            ]
            for option in kind.optionKeys {
                properties.append(.init(option.key, described(optionSchema(option.type), "\(option.meaning) (default: \(option.defaultValue))")))
            }
            let required = kind.optionKeys.filter(\.isRequired).map { JSONValue.string($0.key) }
            let options = JSONValue.object([
                "type": "object", "properties": .object(properties), "required": required.isEmpty ? nil : .array(required), "additionalProperties": false,
            ])
            let value = required.isEmpty ? JSONValue.object(["anyOf": [options, .object(["type": "null"])]]) : options
            choices.append(
                .object([
                    "type": "object", "properties": .object([.init(kind.kind, described(value, kind.summary))]), "required": [.string(kind.kind)],
                    "additionalProperties": false,
                ]))
        }
        return .object(["anyOf": .array(choices)])
    }

    static func optionSchema(_ type: OptionType) -> JSONValue {
        switch type {
        case .integer(let minimum): .object(["type": "integer", "minimum": .int(minimum)])
        case .number(let minimum, let below):
            .object(["type": "number", "minimum": minimum.map(JSONValue.number), "exclusiveMaximum": below.map(JSONValue.number)])
        case .boolean: .object(["type": "boolean"])
        case .choice(let words): choice(words)
        case .wordOrCount(let words): .object(["anyOf": [choice(words), .object(["type": "integer", "minimum": 0])]])
        }
    }

    /// `properties`, `required` and `additionalProperties: false` of a mapping's keys.
    static func mappingMembers(_ keys: [SpecKey], required: [String]) -> [JSONValue.Member] {
        var members: [JSONValue.Member] = [
            .init("type", "object"), .init("properties", .object(keys.map { .init($0.key, property($0)) })),
        ]
        if !required.isEmpty { members.append(.init("required", .array(required.map(JSONValue.string)))) }
        members.append(.init("additionalProperties", false))
        return members
    }

    /// A key's schema with its description and default.
    static func property(_ key: SpecKey) -> JSONValue {
        var description = key.meaning.split(separator: "\n").joined(separator: " ")
        if key.defaultValue == nil, !key.shown.isEmpty, key.shown != "<required>" {
            description += (description.isEmpty ? "" : " ") + "(default: \(key.shown))"
        }
        guard case .object(var members) = described(schema(key.value), description) else { return schema(key.value) }
        if let value = key.defaultValue { members.append(.init("default", value)) }
        return .object(members)
    }

    static func described(_ schema: JSONValue, _ description: String) -> JSONValue {
        guard case .object(var members) = schema, !description.isEmpty else { return schema }
        members.insert(.init("description", .string(description)), at: 0)
        return .object(members)
    }

    static func schema(_ value: SpecValue) -> JSONValue {
        switch value {
        case .integer(let minimum, let maximum):
            return .object(["type": "integer", "minimum": minimum.map(JSONValue.int), "maximum": maximum.map(JSONValue.int)])
        case .number(let minimum, let maximum):
            return .object(["type": "number", "minimum": minimum.map(JSONValue.number), "maximum": maximum.map(JSONValue.number)])
        case .boolean: return .object(["type": "boolean"])
        case .string(let pattern): return .object(["type": "string", "pattern": pattern.map(JSONValue.string)])
        case .choice(let words): return choice(words)
        case .list(let item, let minItems): return .object(["type": "array", "items": schema(item), "minItems": minItems > 0 ? .int(minItems) : nil])
        case .mapping(let keys, let required): return .object(mappingMembers(keys, required: required))
        case .variant(let variants):
            // A bare name, or one name with its options (or null).
            let named = variants.map { variant -> JSONValue.Member in
                let options = JSONValue.object(mappingMembers(variant.options, required: []))
                return .init(variant.name, .object(["anyOf": [options, .object(["type": "null"])]]))
            }
            return .object([
                "anyOf": [
                    choice(variants.map(\.name)),
                    .object(["type": "object", "properties": .object(named), "minProperties": 1, "maxProperties": 1, "additionalProperties": false]),
                ]
            ])
        case .anyOf(let values): return .object(["anyOf": .array(values.map(schema))])
        case .null: return .object(["type": "null"])
        case .dictionary(let item): return .object(["type": "object", "additionalProperties": schema(item)])
        case .model:
            return .object(["anyOf": [.object(["type": "string", "description": "a model file, relative to this file"]), .object(["$ref": "#/$defs/model"])]])
        case .data: return data()
        case .sweep: return sweep()
        }
    }

    /// Words as an enum; YAML's `true` and `false` are booleans to a schema.
    static func choice(_ words: [String]) -> JSONValue {
        .object(["enum": .array(words.map { $0 == "true" ? .bool(true) : $0 == "false" ? .bool(false) : .string($0) })])
    }

    /// `data:`: the common keys and every dataset's own; each dataset allows only its own keys
    /// (and requires `root` where it has no default folder).
    static func data() -> JSONValue {
        let common = Declarations.dataCommon.map(\.key)
        let conditions = DatasetRegistry.kinds.map { kind -> JSONValue in
            let required: JSONValue? = kind.keys.contains("root") && kind.defaultRoot == nil ? ["root"] : nil
            return .object([
                "if": .object(["properties": .object(["dataset": .object(["const": .string(kind.name)])]), "required": ["dataset"]]),
                "then": .object(["propertyNames": .object(["enum": .array((common + kind.keys).map(JSONValue.string))]), "required": required]),
            ])
        }
        var members = mappingMembers(Declarations.dataCommon + Declarations.datasetKeys, required: ["dataset"])
        members.append(.init("allOf", .array(conditions)))
        return .object(members)
    }

    /// `sweep:`: dotted keys under a section, each a list of values or a range; `random: N`.
    static func sweep() -> JSONValue {
        let sections = Declarations.experimentKeys.filter { $0 != "sweep" }.joined(separator: "|")
        let pair = { (type: String) in JSONValue.object(["type": "array", "items": .object(["type": .string(type)]), "minItems": 2, "maxItems": 2]) }
        let range = JSONValue.object([
            "type": "object", "minProperties": 1, "maxProperties": 1, "additionalProperties": false,
            "properties": .object(["uniform": pair("number"), "log_uniform": pair("number"), "int_uniform": pair("integer")]),
        ])
        return .object([
            "anyOf": [
                .object([
                    "type": "object", "properties": .object(["random": .object(["type": "integer", "minimum": 1, "maximum": 10000])]),
                    "propertyNames": .object(["pattern": .string("^(random|(\(sections))(\\.[^.]+)*)$")]),
                    "additionalProperties": .object(["anyOf": [.object(["type": "array", "minItems": 1]), range]]),
                ]),
                .object(["type": "null"]),
            ]
        ])
    }
}

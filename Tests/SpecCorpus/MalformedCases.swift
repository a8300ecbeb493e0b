/// Malformed experiment specs and the exact error each must produce; shared by the spec tests
/// (which load them in-process) and the CLI tests (which run the binary on them).
import Foundation
import Layers

/// A valid experiment the malformed cases are variations of.
public let validSpec = """
    name: t
    model:
      input: [8, 8, 1]
      layers:
        - conv: {filters: 4, kernel: 3}
        - flatten: {}
        - dense: {units: 10}
    data: {dataset: digits}
    """

public struct MalformedCase: Sendable {
    public var what: String
    /// The experiment file, written as x.yaml.
    public var yaml: String
    /// Other files beside it (a model file).
    public var extra: [String: String] = [:]
    /// "file:line:column: error: message" exactly.
    public var expected: String
    /// The hint's start (hints list known names; their start is what matters).
    public var hint: String
    /// Whether the mistake is one a JSON Schema states (an unknown key, a wrong type, an
    /// unknown layer kind, a missing key, a bound): `runner schema`'s schema must reject it.
    public var schemaLevel = false
    public var testDescription: String { what }
}

public let malformedCases: [MalformedCase] = [
    MalformedCase(
        what: "YAML syntax: unclosed flow sequence", yaml: "name: t\nmodel: {input: [8, 8, 1], layers: [\n",
        expected: "x.yaml:3:1: error: YAML syntax error: did not find expected node content while parsing a flow node",
        hint: "check indentation, colons and brackets"),
    MalformedCase(
        what: "YAML syntax: a mapping value where none may be", yaml: "name: t\nseed: 1: 2\n",
        expected: "x.yaml:2:8: error: YAML syntax error: mapping values are not allowed in this context",
        hint: "check indentation"),
    MalformedCase(
        what: "YAML: duplicate key", yaml: validSpec + "\nseed: 1\nseed: 2\n",
        expected: "x.yaml:9:1: error: duplicate key 'seed' in a mapping", hint: "keep one of them"),
    MalformedCase(
        what: "unknown top-level key, with a suggestion", yaml: validSpec + "\ntrian: {epochs: 1}\n",
        expected: "x.yaml:9:1: error: unknown key 'trian' in the experiment", hint: "did you mean 'train'?", schemaLevel: true),
    MalformedCase(
        what: "unknown layer option, with a suggestion", yaml: validSpec.replacingOccurrences(of: "{filters: 4,", with: "{filtres: 4,"),
        expected: "x.yaml:5:14: error: unknown key 'filtres' in conv", hint: "did you mean 'filters'?", schemaLevel: true),
    MalformedCase(
        what: "wrong type: a word for an integer", yaml: validSpec.replacingOccurrences(of: "filters: 4", with: "filters: four"),
        expected: "x.yaml:5:23: error: 'filters' must be a whole number, got 'four'", hint: "for example filters: 32", schemaLevel: true),
    MalformedCase(
        what: "wrong type: a fraction for epochs", yaml: validSpec + "\ntrain: {epochs: 2.5}\n",
        expected: "x.yaml:9:17: error: 'epochs' must be a whole number, got '2.5'", hint: "for example epochs: 32", schemaLevel: true),
    MalformedCase(
        what: "wrong type: a list where a mapping belongs", yaml: validSpec + "\ntrain: [1, 2]\n",
        expected: "x.yaml:9:8: error: train must be a mapping, got a list", hint: "for example train:", schemaLevel: true),
    MalformedCase(
        what: "missing layer option", yaml: validSpec.replacingOccurrences(of: "{filters: 4, kernel: 3}", with: "{filters: 4}"),
        expected: "x.yaml:5:13: error: conv is missing required key 'kernel'", hint: "add 'kernel: <value>'", schemaLevel: true),
    MalformedCase(
        what: "missing model", yaml: "name: t\ndata: {dataset: digits}\n",
        expected: "x.yaml:1:1: error: the experiment is missing required key 'model'", hint: "add 'model: <value>'", schemaLevel: true),
    MalformedCase(
        what: "missing dataset", yaml: validSpec.replacingOccurrences(of: "data: {dataset: digits}", with: "data: {validation: 0.1}"),
        expected: "x.yaml:8:7: error: data is missing required key 'dataset'", hint: "add 'dataset: <value>'", schemaLevel: true),
    MalformedCase(
        what: "unknown layer kind, listing the known ones", yaml: validSpec.replacingOccurrences(of: "- conv:", with: "- convv:"),
        expected: "x.yaml:5:7: error: unknown layer kind 'convv'", hint: "did you mean 'conv'? known kinds: \(LayerRegistry.names.joined(separator: ", "))",
        schemaLevel: true),
    MalformedCase(
        what: "unknown inputs: name", yaml: validSpec.replacingOccurrences(of: "- flatten: {}", with: "- flatten: {inputs: [con1]}"),
        expected: "x.yaml:6:26: error: layer 'flatten1' reads 'con1', but no layer has that name",
        hint: "did you mean 'conv1'? known names: input, conv1, flatten1, dense1"),
    MalformedCase(
        what: "a cycle through inputs:",
        yaml: """
            model:
              input: [8, 8, 1]
              layers:
                - conv: {filters: 4, kernel: 3, name: a, inputs: [b]}
                - conv: {filters: 4, kernel: 3, name: b, inputs: [a]}
                - flatten: {}
                - dense: {units: 10}
            data: {dataset: digits}
            """,
        expected: "x.yaml:4:7: error: layers form a cycle: 'a' → 'b' → 'a'", hint: "a layer's inputs: must not depend on the layer itself"),
    MalformedCase(
        what: "shape mismatch in add, naming both shapes",
        yaml: """
            model:
              input: [8, 8, 1]
              layers:
                - conv: {filters: 4, kernel: 3, name: a}
                - conv: {filters: 8, kernel: 3, name: b}
                - add: {inputs: [a, b]}
                - flatten: {}
                - dense: {units: 10}
            data: {dataset: digits}
            """,
        expected: "x.yaml:6:7: error: layer 'add1' (add): add needs inputs of the same shape, got 8×8×4 and 8×8×8",
        hint: "make both branches end in the same shape"),
    MalformedCase(
        what: "dense on an image, without flatten", yaml: validSpec.replacingOccurrences(of: "    - flatten: {}\n", with: ""),
        expected: "x.yaml:6:7: error: layer 'dense1' (dense): dense needs a flat input, got 8×8×4", hint: "add '- flatten: {}' before this layer"),
    MalformedCase(
        what: "model input that does not match the dataset", yaml: validSpec.replacingOccurrences(of: "[8, 8, 1]", with: "[28, 28, 1]"),
        expected: "x.yaml:3:10: error: the model's input is 28×28×1, but digits images are 8×8×1", hint: "write input: [8, 8, 1]"),
    MalformedCase(
        what: "last layer that does not match the classes", yaml: validSpec.replacingOccurrences(of: "units: 10", with: "units: 12"),
        expected: "x.yaml:7:7: error: the last layer 'dense1' outputs 12, but the dataset has 10 classes", hint: "end the model with '- dense: {units: 10}'"),
    MalformedCase(
        what: "unknown dataset, with a suggestion", yaml: validSpec.replacingOccurrences(of: "dataset: digits", with: "dataset: digts"),
        expected: "x.yaml:8:17: error: 'dataset' cannot be 'digts'", hint: "did you mean 'digits'? one of: digits, xo, cifar10", schemaLevel: true),
    MalformedCase(
        what: "unknown optimizer", yaml: validSpec + "\ntrain: {optimizer: {adamm: {lr: 0.1}}}\n",
        expected: "x.yaml:9:21: error: unknown key 'adamm' in optimizer", hint: "did you mean 'adam'?", schemaLevel: true),
    MalformedCase(
        what: "non-positive size", yaml: validSpec.replacingOccurrences(of: "filters: 4", with: "filters: -4"),
        expected: "x.yaml:5:23: error: 'filters' must be at least 1, got -4", hint: "use a positive whole number", schemaLevel: true),
    MalformedCase(
        what: "a probability out of range", yaml: validSpec.replacingOccurrences(of: "- flatten: {}", with: "- flatten: {}\n    - dropout: {rate: 1.5}"),
        expected: "x.yaml:7:23: error: 'rate' must be in [0, 1), got 1.5", hint: "for example rate: 0.25", schemaLevel: true),
    MalformedCase(
        what: "crop and translate at once",
        yaml: validSpec.replacingOccurrences(of: "data: {dataset: digits}", with: "data: {dataset: digits, augment: {crop: 2, translate: 2}}"),
        expected: "x.yaml:8:55: error: 'crop' and 'translate' both shift the image: give one",
        hint: "crop fills the border with zeros, translate with the image reflected"),
    MalformedCase(
        what: "an unknown flip",
        yaml: validSpec.replacingOccurrences(of: "data: {dataset: digits}", with: "data: {dataset: digits, augment: {flip: sometimes}}"),
        expected: "x.yaml:8:41: error: 'flip' cannot be 'sometimes'", hint: "one of: false, true, alternating", schemaLevel: true),
    MalformedCase(
        what: "a parameter group that matches nothing", yaml: validSpec + "\ntrain: {groups: [{parameters: \"nothing/*\", lr_scale: 2}]}\n",
        expected: "x.yaml:9:18: error: the group's parameters 'nothing/*' match no trainable parameter",
        hint: "parameters are named layer/parameter: conv1/weight, conv1/bias, dense1/weight, dense1/bias"),
    MalformedCase(
        what: "a parameter group without parameters", yaml: validSpec + "\ntrain: {groups: [{lr_scale: 2}]}\n",
        expected: "x.yaml:9:18: error: a group is missing required key 'parameters'", hint: "add 'parameters: <value>'", schemaLevel: true),
    MalformedCase(
        what: "lookahead every 0 steps", yaml: validSpec + "\ntrain: {lookahead: {every: 0}}\n",
        expected: "x.yaml:9:28: error: 'every' must be from 1 to 1000000, got 0", hint: "use a whole number in 1...1000000", schemaLevel: true),
    MalformedCase(
        what: "tta without a test split", yaml: validSpec.replacingOccurrences(of: "data: {dataset: digits}", with: "data: {dataset: digits, tta: flip}"),
        expected: "x.yaml:8:30: error: 'tta' averages views of the test split, which this spec never evaluates",
        hint: "set test: final, or remove tta"),
    MalformedCase(
        what: "a whitening convolution with the wrong number of filters",
        yaml: validSpec.replacingOccurrences(of: "{filters: 4, kernel: 3}", with: "{filters: 6, kernel: 2, init: whiten}"),
        expected: "x.yaml:5:7: error: layer 'conv1' (conv): init: whiten makes 2 × (2·2·1) = 8 filters", hint: "write filters: 8"),
    MalformedCase(
        what: "a dense layer cannot whiten", yaml: validSpec.replacingOccurrences(of: "{units: 10}", with: "{units: 10, init: whiten}"),
        expected: "x.yaml:7:32: error: init: whiten is for convolutions (it whitens image patches)", hint: "use glorot_uniform, he_uniform or dirac"),
    MalformedCase(
        what: "a zero scale", yaml: validSpec.replacingOccurrences(of: "- flatten: {}", with: "- flatten: {}\n    - scale: {factor: 0}"),
        expected: "x.yaml:7:23: error: 'factor' must not be 0, got 0.0", hint: "for example factor: 0.111"),
    MalformedCase(
        what: "two layers with one name", yaml: validSpec.replacingOccurrences(of: "- flatten: {}", with: "- flatten: {name: conv1}"),
        expected: "x.yaml:6:7: error: two layers are named 'conv1' (the other is at 5:7)", hint: "give each layer a distinct name:"),
    MalformedCase(
        what: "a layer entry with two kinds", yaml: validSpec.replacingOccurrences(of: "- flatten: {}", with: "- flatten: {}\n      relu: {}"),
        expected: "x.yaml:6:7: error: a layer entry must have exactly one key, the layer kind", hint: "write '- conv: {filters: 32, kernel: 3}'",
        schemaLevel: true),
    MalformedCase(
        what: "padding that is neither a word nor a number", yaml: validSpec.replacingOccurrences(of: "kernel: 3}", with: "kernel: 3, padding: full}"),
        expected: "x.yaml:5:46: error: 'padding' must be same, valid or a number of zeros ≥ 0, got 'full'", hint: "write padding: same", schemaLevel: true),
    MalformedCase(
        what: "a model file that does not exist", yaml: "model: models/none.yaml\ndata: {dataset: digits}\n",
        expected: "x.yaml:1:8: error: model file '", hint: "model: is a path relative to this file's folder"),
    MalformedCase(
        what: "an error inside a model file names that file", yaml: "model: net.yaml\ndata: {dataset: digits}\n",
        extra: ["net.yaml": "input: [8, 8, 1]\nlayers:\n  - dense: {unit: 10}\n"],
        expected: "net.yaml:3:13: error: unknown key 'unit' in dense", hint: "did you mean 'units'?"),
    MalformedCase(
        what: "step values that do not match the boundaries", yaml: validSpec + "\ntrain: {schedule: {steps: {at_epochs: [2, 4], values: [0.1]}}}\n",
        expected: "x.yaml:9:55: error: 'values' needs one rate per entry of 'at_epochs' (2), got 1", hint: "for example at_epochs: [21, 41]"),
    MalformedCase(
        what: "batch size zero", yaml: validSpec + "\ntrain: {batch_size: 0}\n",
        expected: "x.yaml:9:21: error: 'batch_size' must be at least 1, got 0", hint: "use a whole number ≥ 1", schemaLevel: true),
    MalformedCase(
        what: "a join with one input", yaml: validSpec.replacingOccurrences(of: "- flatten: {}", with: "- add: {inputs: [conv1]}\n    - flatten: {}"),
        expected: "x.yaml:6:21: error: add takes 2 inputs, got 1", hint: "list the names of the layers it reads"),
    MalformedCase(
        what: "a kernel larger than its input", yaml: validSpec.replacingOccurrences(of: "kernel: 3}", with: "kernel: 9, padding: valid}"),
        expected: "x.yaml:5:7: error: layer 'conv1' (conv): a 9×9 kernel with padding valid does not fit the 8×8×1 input",
        hint: "use padding: same or a smaller kernel"),
    MalformedCase(
        what: "a learning rate that is not a number", yaml: validSpec + "\ntrain: {optimizer: {adam: {lr: fast}}}\n",
        expected: "x.yaml:9:32: error: 'lr' must be a number, got 'fast'", hint: "for example lr: 0.001", schemaLevel: true),
    // Issue 13, finding 5: a typo of a sample count aborted in malloc.
    MalformedCase(
        what: "xo samples beyond the cap",
        yaml: "name: t\nmodel:\n  input: [12, 12, 1]\n  layers: [{flatten: {}}, {dense: {units: 2}}]\ndata: {dataset: xo, samples: 1000000000}\n",
        expected: "x.yaml:5:30: error: 'samples' must be from 10 to 1000000, got 1000000000", hint: "use a whole number in 10...1000000", schemaLevel: true),
    MalformedCase(
        what: "xo samples × size² beyond the pixel cap",
        yaml: "name: t\nmodel:\n  input: [64, 64, 1]\n  layers: [{flatten: {}}, {dense: {units: 2}}]\ndata: {dataset: xo, samples: 100000, size: 64}\n",
        expected: "x.yaml:5:30: error: 100000 samples of 64×64 are 409600000 pixels; xo generates at most 100,000,000",
        hint: "use fewer samples or a smaller size"),
]

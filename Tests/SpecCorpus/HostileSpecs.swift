import Foundation

/// Hostile or absurd experiment files: each must get one located error, quickly, in bounded
/// memory, writing nothing. `expected` is the start of the first line of the error after the
/// file name (`:line:column: error: ...`).
public struct HostileSpec: Sendable {
    public var what: String
    public var bytes: [UInt8]
    public var expected: String
}

func spec(_ layers: String, data: String = "{dataset: digits}", extra: String = "", input: String = "[8, 8, 1]") -> String {
    "model:\n  input: \(input)\n  layers:\n\(layers)\ndata: \(data)\n\(extra)"
}
let tail = "    - flatten: {}\n    - dense: {units: 10}"

public let hostileSpecs: [HostileSpec] = {
    var cases: [(String, String, String)] = [
        ("empty file", "", ":1:1: error: the experiment is missing required key 'model'"),
        ("only a comment", "# nothing\n", ":1:1: error: the experiment is missing required key 'model'"),
        ("a bare scalar", "hello", ":1:1: error: the experiment must be a mapping"),
        ("a list at the top", "- 1\n- 2\n", ":1:1: error: the experiment must be a mapping"),
        ("null model", "model: null\ndata: {dataset: digits}\n", ":1:8: error: model is missing required key 'input'"),
        ("tab indentation", "model:\n\tinput: [8, 8, 1]\n", ":2:1: error: YAML syntax error"),
        ("unterminated quote", "name: \"abc\nmodel: {}\n", ":3:1: error: YAML syntax error"),
        ("huge integer", spec("    - conv: {filters: 99999999999999999999999, kernel: 3}\n" + tail), ":4:23: error: 'filters' must be a whole number"),
        ("negative kernel", spec("    - conv: {filters: 4, kernel: -3}\n" + tail), ":4:34: error: 'kernel' must be at least 1, got -3"),
        ("zero units", spec("    - flatten: {}\n    - dense: {units: 0}"), ":5:22: error: 'units' must be at least 1, got 0"),
        ("float filters", spec("    - conv: {filters: 4.5, kernel: 3}\n" + tail), ":4:23: error: 'filters' must be a whole number"),
        ("NaN rate", spec("    - dropout: {rate: .nan}\n" + tail), ":4:23: error: 'rate' must be a number, got '.nan'"),
        ("infinite lr", spec(tail, extra: "train: {optimizer: {adam: {lr: .inf}}}"), ":7:32: error: 'lr' must be a number"),
        ("negative lr", spec(tail, extra: "train: {optimizer: {sgd: {lr: -1}}}"), ":7:31: error: 'lr' must be between"),
        (
            "billion-parameter dense", spec("    - flatten: {}\n    - dense: {units: 1000000000}\n    - dense: {units: 10}"),
            ":5:7: error: layer 'dense1' is too large"
        ),
        (
            "a model too big for memory", spec("    - conv: {filters: 200000, kernel: 3}\n" + tail, extra: "train: {batch_size: 65536}"),
            ":4:7: error: the model needs up to"
        ),
        ("batch size of a million", spec(tail, extra: "train: {batch_size: 1000000}"), ":7:21: error: 'batch_size' must be at most 65536"),
        ("a billion epochs", spec(tail, extra: "train: {epochs: 1000000000000000000000}"), ":7:17: error: 'epochs' must be a whole number"),
        ("input of a million pixels squared", spec(tail, input: "[1000000, 1000000, 1]"), ":4:7: error: layer 'flatten1' is too large"),
        ("input with zero size", spec(tail, input: "[8, 0, 1]"), ":2:14: error: each 'input' size must be between 1 and"),
        ("input with four dimensions", spec(tail, input: "[8, 8, 1, 1]"), ":2:10: error: 'input' must list 1 to 3 sizes, got 4"),
        ("input not a list", spec(tail, input: "eight"), ":2:10: error: 'input' must be a list"),
        ("layers a mapping", "model: {input: [8, 8, 1], layers: {conv: {}}}\ndata: {dataset: digits}\n", ":1:35: error: 'layers' must be a list"),
        ("empty layers", "model: {input: [8, 8, 1], layers: []}\ndata: {dataset: digits}\n", ":1:35: error: 'layers' is empty"),
        ("a layer with no kind", spec("    - {}\n" + tail), ":4:7: error: a layer entry must have exactly one key"),
        ("a number as a layer kind", spec("    - 42: {}\n" + tail), ":4:7: error: unknown layer kind '42'"),
        ("a list as a layer", spec("    - [conv]\n" + tail), ":4:7: error: a layer entry must be a mapping"),
        ("self-referencing input", spec("    - conv: {filters: 4, kernel: 3, name: a, inputs: [a]}\n" + tail), ":4:55: error: layer 'a' reads its own output"),
        ("input named 'input'", spec("    - conv: {filters: 4, kernel: 3, name: input}\n" + tail), ":4:43: error: 'input' cannot name a layer"),
        ("name with a slash", spec("    - conv: {filters: 4, kernel: 3, name: ../../etc}\n" + tail), ":4:43: error: '../../etc' cannot name a layer"),
        ("experiment name escaping runs/", "name: ../../tmp/x\n" + spec(tail), ":1:7: error: '../../tmp/x' cannot name a run directory"),
        (
            "concat of 100 inputs",
            spec(
                "    - conv: {filters: 4, kernel: 3, name: a}\n    - concat: {inputs: [" + Array(repeating: "a", count: 100).joined(separator: ", ") + "]}\n"
                    + tail), ":5:24: error: concat takes 2 to 16 inputs, got 100"
        ),
        (
            "three-layer cycle",
            spec(
                "    - conv: {filters: 4, kernel: 3, name: a, inputs: [c]}\n    - conv: {filters: 4, kernel: 3, name: b, inputs: [a]}\n    - conv: "
                    + "{filters: 4, kernel: 3, name: c, inputs: [b]}\n"
                    + tail), ":4:7: error: layers form a cycle: 'a' → 'c' → 'b' → 'a'"
        ),
        ("the model file is the experiment itself", "model: x.yaml\ndata: {dataset: digits}\n", ":1:1: error: unknown key 'model' in model"),
        ("the model file is a directory", "model: .\ndata: {dataset: digits}\n", ":1:8: error: model file '.' is not a regular file"),
        ("model path to /dev/zero", "model: /dev/zero\ndata: {dataset: digits}\n", ":1:8: error: model file '/dev/zero' is not a regular file"),
        ("unknown dataset with a path", spec(tail, data: "{dataset: ../../etc/passwd}"), ":6:17: error: 'dataset' cannot be '../../etc/passwd'"),
        (
            "validation larger than the data", spec(tail, data: "{dataset: digits, validation: 5000}"),
            ":6:37: error: 'validation' holds out 5000 examples, but digits has 1797 to train on"
        ),
        ("sweep over an unknown section", spec(tail, extra: "sweep: {bogus.key: [1, 2]}"), ":7:9: error: sweep key 'bogus.key' does not start with a section"),
        ("sweep of a million random points", spec(tail, extra: "sweep: {random: 1000000, seed: [1, 2]}"), ":7:17: error: 'random' must be between 1 and 10000"),
        (
            "sweep range without random", spec(tail, extra: "sweep: {train.optimizer.adam.lr: {uniform: [0, 1]}}"),
            ":7:9: error: sweep key 'train.optimizer.adam.lr' is a range, which needs 'random: N'"
        ),
        ("sweep with an empty list", spec(tail, extra: "sweep: {seed: []}"), ":7:15: error: sweep key 'seed' lists no values"),
        (
            "sweep into a list index out of range", spec(tail, extra: "sweep: {model.layers.99.conv.filters: [1, 2]}"),
            ":7:9: error: 'model.layers.99.conv.filters': '99' is not an index of a list of 2"
        ),
        (
            "steps schedule going backwards", spec(tail, extra: "train: {schedule: {steps: {at_epochs: [5, 3]}}}"),
            ":7:43: error: 'at_epochs' must be increasing epochs ≥ 1, got 3"
        ),
        (
            "cosine warm-up longer than training", spec(tail, extra: "train: {epochs: 2, schedule: {cosine: {warmup_epochs: 10}}}"),
            ":7:55: error: 'warmup_epochs' must be between 0.0 and 2.0, got 10.0"
        ),
        ("keep_last zero", spec(tail, extra: "checkpoint: {keep_last: 0}"), ":7:25: error: 'keep_last' must be at least 1, got 0"),
        ("unknown metric", spec(tail, extra: "early_stopping: {metric: val/acc}"), ":7:26: error: 'metric' cannot be 'val/acc'"),
        (
            "a very long key", spec(tail, extra: String(repeating: "k", count: 100_000) + ": 1"),
            ":7:100001: error: YAML syntax error: could not find expected ':'"
        ),
        ("a key that is a mapping", spec(tail, extra: "? {a: 1}\n: 2"), ":7:3: error: a key in the experiment must be a word"),
        ("unicode confusable key", spec(tail, extra: "tr\u{0430}in: {}"), ":7:1: error: unknown key 'trаin' in the experiment"),
        (
            "deeply nested flow lists", "name: " + String(repeating: "[", count: 5000) + String(repeating: "]", count: 5000) + "\n",
            ":1:107: error: the spec is nested more than 100 levels deep"
        ),
        (
            "deeply nested block mappings", (0 ..< 300).map { String(repeating: "  ", count: $0) + "k\($0):" }.joined(separator: "\n") + " 1\n",
            ":102:201: error: the spec is nested more than 100 levels deep"
        ),
        (
            "alias bomb",
            "a: &a [1,2,3,4,5,6,7,8,9,10]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d "
                + "[*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"
                + "f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n",
            ":1:1: error: the document expands to more than 100000 values"
        ),
        ("undefined alias", "model: *nothing\n", ":1:8: error: YAML syntax error: found undefined alias"),
        (
            "a 2 MB file", "name: x\n# " + String(repeating: "x", count: 2_000_000) + "\n",
            ":1:1: error: the spec is 1.9 MiB, more than the 1.0 MiB runner reads for one"
        ),
        ("two documents", spec(tail) + "\n---\nname: y\n", ":"),
    ]
    var result = cases.map { HostileSpec(what: $0.0, bytes: Array($0.1.utf8), expected: $0.2) }
    result.append(
        HostileSpec(what: "not UTF-8", bytes: [0x6E, 0x61, 0x6D, 0x65, 0x3A, 0x20, 0xFF, 0xFE, 0x0A], expected: ":1:1: error: the file is not UTF-8 text"))
    result.append(HostileSpec(what: "NUL bytes", bytes: Array("name: a\0b\n".utf8), expected: ":1:"))
    result.append(HostileSpec(what: "random bytes", bytes: (0 ..< 4096).map { UInt8(truncatingIfNeeded: $0 &* 2_654_435_761 >> 13) }, expected: ":1:1: error:"))
    return result
}()

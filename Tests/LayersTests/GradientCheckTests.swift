import Foundation
import Kernels
import Layers
import Tensor
import Testing

/// Options from a dictionary, spelled as YAML would spell them.
struct DictionaryOptions: OptionSource {
    var values: [String: String]
    struct Failure: Error, CustomStringConvertible { var description: String }

    func int(_ key: String, default defaultValue: Int?) throws -> Int {
        guard let text = values[key] else { if let defaultValue { return defaultValue }; throw Failure(description: "missing \(key)") }
        guard let value = Int(text) else { throw Failure(description: "\(key) not an int") }
        return value
    }
    func double(_ key: String, default defaultValue: Double?) throws -> Double {
        guard let text = values[key] else { if let defaultValue { return defaultValue }; throw Failure(description: "missing \(key)") }
        guard let value = Double(text) else { throw Failure(description: "\(key) not a number") }
        return value
    }
    func bool(_ key: String, default defaultValue: Bool) throws -> Bool { values[key].map { $0 == "true" } ?? defaultValue }
    func choice(_ key: String, default defaultValue: String?, allowed: [String]) throws -> String {
        guard let value = values[key] ?? defaultValue, allowed.contains(value) else { throw Failure(description: "bad \(key)") }
        return value
    }
    func text(_ key: String) throws -> String? { values[key] }
    func invalid(_ key: String, _ message: String, hint: String) -> any Error { Failure(description: message) }
}

/// A layer with its own buffers, run outside any plan: the harness the gradient check uses.
final class LayerHarness {
    let layer: any Layer
    let batch: Int
    let inputShapes: [Shape]
    let outputShape: Shape
    let specs: [ParameterSpec]
    var inputs: [[Float]]
    var parameters: [[Float]]
    var storage: [UnsafeMutableBufferPointer<Float>] = []
    let context: StepContext
    let dropoutSeed = RandomSource(seed: 99)

    let workers: Int

    init(
        _ layer: any Layer, inputs shapes: [Shape], batch: Int, seed: UInt64, workers: Int = 1, precision: Precision = .fp32,
        level: CPULevel = CPU.level
    ) throws {
        self.workers = workers
        self.layer = layer
        self.batch = batch
        inputShapes = shapes
        outputShape = try layer.outputShape(inputs: shapes)
        specs = layer.parameters(inputs: shapes)
        var random = RandomSource(seed: seed)
        // Inputs away from 0 so that ReLU kinks are rare; ties in max pooling have probability 0.
        inputs = shapes.map { shape in (0 ..< batch * shape.count).map { _ in (random.uniformFloat() < 0.5 ? -1 : 1) * random.uniform(0.1, 1) } }
        parameters = specs.map { spec in
            (0 ..< spec.count).map { _ in
                spec.name == "running_variance" ? random.uniform(0.5, 1.5) : random.uniform(-0.5, 0.5)
            }
        }
        context = StepContext(batch: batch, training: true, random: dropoutSeed, compute: ComputeEngine(workers: workers, precision: precision, level: level))
    }

    deinit { storage.forEach { $0.deallocate() } }

    func buffer(_ values: [Float]) -> FloatBuffer {
        let b = FloatBuffer.allocate(capacity: max(values.count, 1))
        _ = b.initialize(from: values)
        storage.append(b)
        return FloatBuffer(start: b.baseAddress, count: values.count)
    }

    /// Runs forward (and backward with `outputGradient`), returning the output and, when
    /// backward ran, the gradients of inputs and parameters.
    func run(outputGradient: [Float]?) -> (output: [Float], dInputs: [[Float]], dParameters: [[Float]]) {
        // Every buffer of this run is freed when it returns (the results are copies): a gradient
        // check runs thousands of times, and the test process must stay small.
        let mark = storage.count
        defer {
            storage[mark...].forEach { $0.deallocate() }
            storage.removeSubrange(mark...)
        }
        let buffers = layer.buffers(inputs: inputShapes, output: outputShape, capacity: batch, workers: workers)
        let saved = buffers.map { buffer([Float](repeating: .nan, count: $0.floats)) }
        let forwardScratch = buffers.map { $0.role == .saved ? nil : buffer([Float](repeating: .nan, count: $0.floats)) }
        let backwardScratch = buffers.map { $0.role == .saved ? nil : buffer([Float](repeating: .nan, count: $0.floats)) }
        let inputViews = inputs.map(buffer)
        let parameterViews = parameters.map(buffer)
        let output = buffer([Float](repeating: .nan, count: batch * outputShape.count))
        let dInputs = inputs.map { buffer([Float](repeating: 0, count: $0.count)) }
        let dParameters = specs.map { $0.trainable ? buffer([Float](repeating: 0, count: $0.count)) : nil }
        let dOutput = outputGradient.map(buffer)
        var io = LayerIO(
            inputShapes: inputShapes, outputShape: outputShape, inputs: inputViews, output: output,
            parameters: parameterViews, parameterGradients: dParameters, inputGradients: dInputs,
            outputGradient: dOutput, buffers: zip(saved, forwardScratch).map { $1 ?? $0 })
        context.random = dropoutSeed  // the same dropout mask on every forward
        layer.forward(io, context)
        let result = Array(output)
        guard dOutput != nil else { return (result, [], []) }
        io.buffers = zip(saved, backwardScratch).map { $1 ?? $0 }
        layer.backward(io, context)
        return (result, dInputs.map(Array.init), dParameters.map { $0.map(Array.init) ?? [] })
    }
}

/// Central differences of L = Σ output · R against the analytic gradients, in Float.
/// An element where the two one-sided differences disagree sits on a kink (ReLU at 0, a
/// max-pool tie) and is skipped, as Caffe's checker does.
func gradientCheck(_ layer: any Layer, inputs: [Shape], batch: Int = 2, seed: UInt64 = 1, level: CPULevel = CPU.level) throws -> (
    checked: Int, total: Int, worst: Float
) {
    let harness = try LayerHarness(layer, inputs: inputs, batch: batch, seed: seed, level: level)
    var random = RandomSource(seed: seed &+ 1)
    let weights = (0 ..< batch * harness.outputShape.count).map { _ in random.uniform(-1, 1) }
    func loss() -> Double { zip(harness.run(outputGradient: nil).output, weights).reduce(0) { $0 + Double($1.0) * Double($1.1) } }
    let analytic = harness.run(outputGradient: weights)
    let epsilon: Float = 1e-3
    var checked = 0, total = 0
    var worst: Float = 0
    func check(_ get: () -> Float, _ set: (Float) -> Void, _ expected: Float) {
        total += 1
        let original = get()
        set(original + epsilon); let plus = loss()
        set(original - epsilon); let minus = loss()
        set(original); let center = loss()
        let forward = (plus - center) / Double(epsilon), backward = (center - minus) / Double(epsilon)
        if abs(forward - backward) > 0.01 * max(1, abs(forward)) { return }  // a kink
        let numeric = Float((plus - minus) / Double(2 * epsilon))
        let error = abs(numeric - expected) / max(1, abs(numeric), abs(expected))
        worst = max(worst, error)
        checked += 1
    }
    for i in harness.inputs.indices {
        for j in harness.inputs[i].indices {
            check({ harness.inputs[i][j] }, { harness.inputs[i][j] = $0 }, analytic.dInputs[i][j])
        }
    }
    for i in harness.parameters.indices where harness.specs[i].trainable {
        for j in harness.parameters[i].indices {
            check({ harness.parameters[i][j] }, { harness.parameters[i][j] = $0 }, analytic.dParameters[i][j])
        }
    }
    return (checked, total, worst)
}

@Suite("Every registered layer kind")
struct RegistryTests {
    @Test(
        "passes a finite-difference gradient check at every CPU level this machine supports",
        arguments: LayerRegistry.kinds.map { $0.kind }, CPU.supportedLevels)
    func gradients(kind: String, level: CPULevel) throws {
        let type = LayerRegistry.kind(named: kind)!
        #expect(!type.gradientCheckCases.isEmpty, "\(kind) lists no gradient-check case")
        for testCase in type.gradientCheckCases {
            let layer = try type.init(options: DictionaryOptions(values: testCase.options))
            let (checked, total, worst) = try gradientCheck(layer, inputs: testCase.inputs, level: level)
            // Kinks are skipped, but they must stay rare: most elements are checked.
            #expect(Double(checked) >= 0.9 * Double(total), "\(kind) \(testCase.options) at \(level): only \(checked) of \(total) checked")
            #expect(worst < 2e-3, "\(kind) \(testCase.options) on \(testCase.inputs) at \(level): worst relative error \(worst)")
        }
    }

    @Test("gives the same outputs and gradients on two workers as on one", arguments: LayerRegistry.kinds.map { $0.kind })
    func workersAgree(kind: String) throws {
        let type = LayerRegistry.kind(named: kind)!
        for testCase in type.gradientCheckCases {
            // Batch 1 leaves the second worker without examples; 5 splits 2 + 3.
            for batch in [1, 5] {
                let layer = try type.init(options: DictionaryOptions(values: testCase.options))
                let one = try LayerHarness(layer, inputs: testCase.inputs, batch: batch, seed: 7, workers: 1)
                let two = try LayerHarness(layer, inputs: testCase.inputs, batch: batch, seed: 7, workers: 2)
                let gradient = (0 ..< batch * one.outputShape.count).map { Float($0 % 7) - 3 }
                let a = one.run(outputGradient: gradient), b = two.run(outputGradient: gradient)
                func close(_ x: [Float], _ y: [Float]) -> Bool {
                    x.count == y.count && zip(x, y).allSatisfy { abs($0 - $1) <= 1e-5 * max(1, abs($0)) }
                }
                #expect(close(a.output, b.output), "\(kind) \(testCase.options) batch \(batch): outputs differ")
                for (x, y) in zip(a.dInputs, b.dInputs) { #expect(close(x, y), "\(kind) \(testCase.options) batch \(batch): input gradients differ") }
                for (x, y) in zip(a.dParameters, b.dParameters) {
                    #expect(close(x, y), "\(kind) \(testCase.options) batch \(batch): parameter gradients differ")
                }
            }
        }
    }

    @Test(
        "options round-trip (read, written back, read again: the same layer), and test cases name only the kind's options",
        arguments: LayerRegistry.kinds.map { $0.kind })
    func optionsRoundTrip(kind: String) throws {
        let type = LayerRegistry.kind(named: kind)!
        let keys = type.optionKeys.map(\.key)
        #expect(Set(keys).count == keys.count, "\(kind) declares an option twice: \(keys)")
        func written(_ layer: any Layer) -> [String] { layer.resolvedOptions.map { "\($0.0)=\($0.1)" } }
        for testCase in type.gradientCheckCases {
            let unknown = Set(testCase.options.keys).subtracting(keys)
            #expect(unknown.isEmpty, "\(kind)'s gradient-check case \(testCase.options) names options \(kind) does not have: \(unknown.sorted())")
            let layer = try type.init(options: DictionaryOptions(values: testCase.options))
            // Every option is written back, in declaration order, with the value the case gave.
            #expect(layer.resolvedOptions.map(\.0) == keys)
            for (key, value) in layer.resolvedOptions { if let given = testCase.options[key] { #expect(value.text == given, "\(kind).\(key)") } }
            let again = try type.init(options: DictionaryOptions(values: Dictionary(uniqueKeysWithValues: layer.resolvedOptions.map { ($0.0, $0.1.text) })))
            #expect(written(again) == written(layer), "\(kind) \(testCase.options)")
        }
    }

    @Test("names are unique and snake_case")
    func names() {
        let names = LayerRegistry.kinds.map { $0.kind }
        #expect(Set(names).count == names.count)
        for name in names { #expect(name.range(of: "^[a-z][a-z0-9_]*$", options: .regularExpression) != nil) }
    }

    @Test("the gradient check catches a wrong backward")
    func checkerCanFail() throws {
        // A layer whose backward is off by a factor of two must fail the check.
        struct Broken: Layer {
            static let kind = "broken"
            static let summary = ""
            static let gradientCheckCases: [GradientCheckCase] = []
            func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape { inputs[0] }
            func forward(_ io: LayerIO, _ context: StepContext) {
                for i in 0 ..< context.batch * io.outputShape.count { io.output[i] = io.inputs[0][i] * io.inputs[0][i] }
            }
            func backward(_ io: LayerIO, _ context: StepContext) {
                for i in 0 ..< context.batch * io.outputShape.count { io.inputGradients[0]![i] += io.outputGradient![i] * io.inputs[0][i] }
            }
        }
        let (_, _, worst) = try gradientCheck(Broken(options: DictionaryOptions(values: [:])), inputs: [[4]])
        #expect(worst > 0.1)
    }
}

@Suite("Layer semantics")
struct LayerSemanticsTests {
    @Test("SAME padding of an even kernel pads 0 before and 1 after (TensorFlow's rule)")
    func evenKernelSamePadding() {
        let g = Window2D(inputHeight: 8, inputWidth: 8, channels: 1, kernel: 2, stride: 1, padding: .same)
        #expect(g.outputHeight == 8 && g.padTop == 0)
        let g3 = Window2D(inputHeight: 7, inputWidth: 7, channels: 1, kernel: 3, stride: 2, padding: .same)
        #expect(g3.outputHeight == 4 && g3.padTop == 1)  // total padding 2: 1 before, 1 after
        let g4 = Window2D(inputHeight: 8, inputWidth: 8, channels: 1, kernel: 3, stride: 2, padding: .same)
        #expect(g4.outputHeight == 4 && g4.padTop == 0)  // total padding 1: 0 before, 1 after
    }

    @Test("dropout is the identity in inference and zeroes about `rate` in training")
    func dropoutModes() throws {
        let layer = try Dropout(options: DictionaryOptions(values: ["rate": "0.5"]))
        let harness = try LayerHarness(layer, inputs: [[1000]], batch: 1, seed: 3)
        harness.context.training = false
        #expect(harness.run(outputGradient: nil).output == harness.inputs[0])
        harness.context.training = true
        let zeros = harness.run(outputGradient: nil).output.filter { $0 == 0 }.count
        #expect((400 ... 600).contains(zeros))
    }

    @Test("dropout on a batch split in two (data-parallel ranks) draws the whole batch's mask, examples of odd size included")
    func dropoutSplitBatch() throws {
        let layer = try Dropout(options: DictionaryOptions(values: ["rate": "0.5"]))
        let whole = try LayerHarness(layer, inputs: [[7]], batch: 6, seed: 5, workers: 2)
        let expected = whole.run(outputGradient: nil).output
        var pieces: [Float] = []
        for (first, count) in [(0, 2), (2, 3), (5, 1)] {  // three ranks' shares: 2, 3 and 1 examples
            let part = try LayerHarness(layer, inputs: [[7]], batch: count, seed: 5, workers: 2)
            part.inputs[0] = Array(whole.inputs[0][(first * 7) ..< ((first + count) * 7)])
            part.context.firstExample = first
            pieces += part.run(outputGradient: nil).output
        }
        #expect(pieces == expected)
        #expect(expected.filter { $0 == 0 }.count > 0)
    }

    @Test(
        "conv and dense in bf16 stay within bf16 rounding of fp32: outputs, input and weight gradients",
        .enabled(if: Precision.bf16.isAvailable, "this CPU has no AVX512-BF16"),
        // No fused ReLU here: bf16 moves outputs near 0 across it, which flips whole gradient
        // elements — a true difference, but not a rounding one.
        arguments: [
            (["filters": "32", "kernel": "3"], [8, 8, 16] as Shape),
            (["filters": "24", "kernel": "2", "stride": "2", "padding": "valid"], [6, 6, 18] as Shape),
            (["units": "40"], [50] as Shape),
        ])
    func bf16CloseToFP32(options: [String: String], input: Shape) throws {
        let layer: any Layer =
            options["units"] != nil ? try Dense(options: DictionaryOptions(values: options)) : try Conv(options: DictionaryOptions(values: options))
        let exact = try LayerHarness(layer, inputs: [input], batch: 20, seed: 11, workers: 2, precision: .fp32)
        let mixed = try LayerHarness(layer, inputs: [input], batch: 20, seed: 11, workers: 2, precision: .bf16)
        let gradient = (0 ..< 20 * exact.outputShape.count).map { Float($0 % 5) - 2 }
        let a = exact.run(outputGradient: gradient), b = mixed.run(outputGradient: gradient)
        // Each product's inputs carry a relative rounding error of at most 2^-9; sums of many
        // terms of both signs stay within a few times that of the largest magnitude.
        func close(_ x: [Float], _ y: [Float], _ what: String) {
            let scale = x.map(abs).max() ?? 1
            let worst = zip(x, y).map { abs($0 - $1) }.max() ?? 0
            #expect(
                worst <= 0.01 * scale,
                "\(what): worst difference \(worst) against magnitude \(scale) at \(zip(x, y).map { abs($0 - $1) }.firstIndex(of: worst)!) of \(x.count)")
            #expect(worst > 0, "\(what): bf16 gave exactly fp32's numbers, so it did not run")
        }
        close(a.output, b.output, "output")
        close(a.dInputs[0], b.dInputs[0], "input gradient")
        close(a.dParameters[0], b.dParameters[0], "weight gradient")
    }

    @Test("batchnorm in inference uses the running statistics")
    func batchNormInference() throws {
        let layer = try BatchNorm(options: DictionaryOptions(values: ["epsilon": "0.0001"]))
        let harness = try LayerHarness(layer, inputs: [[2]], batch: 3, seed: 5)
        harness.parameters = [[2, 1], [0.5, -1], [1, 0], [4, 1]]  // gamma, beta, mean, variance
        harness.inputs = [[1, 0, 3, 2, 5, 4]]
        harness.context.training = false
        let y = harness.run(outputGradient: nil).output
        let expected: [Float] = [0.5, -1, 2.5, 1, 4.5, 3].enumerated().map { i, _ in
            let c = i % 2, x: Float = [1, 0, 3, 2, 5, 4][i]
            return [Float(2), 1][c] * (x - [Float(1), 0][c]) / ([Float(4), 1][c] + 1e-4).squareRoot() + [Float(0.5), -1][c]
        }
        for (a, b) in zip(y, expected) { #expect(abs(a - b) < 1e-5) }
    }
}

import Datasets
import Foundation
import Graph
import Kernels
import Plan
import Spec
import Tensor
import Testing

@testable import Train

@Suite("Test-time augmentation in evaluation")
struct TestTimeAugmentationEvaluationTests {
    @Test("evaluation with flip views scores the average of each image's and its mirror's logits")
    func flipAverages() throws {
        let graph = try Graph(ModelSpec(SpecNode.parse(yaml: "input: [3, 4, 1]\nlayers:\n  - flatten: {}\n  - dense: {units: 3}\n", file: "m.yaml")))
        let plan = Plan(graph: graph, capacity: 4, trainable: false, seed: 2)
        var random = RandomSource(seed: 3)
        let images = (0 ..< 7 * 12).map { _ in random.uniform(-1, 1) }
        let labels: [Int32] = [0, 1, 2, 0, 1, 2, 1]
        let data = Dataset(name: "t", shape: [3, 4, 1], classNames: ["a", "b", "c"], images: images, labels: labels)
        let result = Evaluation(plan, on: data, tta: .flip)
        // By hand, one image at a time: logits of the image and of its mirror, averaged.
        var lossSum = 0.0, correct = 0
        for n in 0 ..< 7 {
            let image = Array(images[n * 12 ..< (n + 1) * 12])
            var mirrored = [Float](repeating: 0, count: 12)
            for y in 0 ..< 3 { for x in 0 ..< 4 { mirrored[y * 4 + x] = image[y * 4 + 3 - x] } }
            var average = [Float](repeating: 0, count: 3)
            for view in [image, mirrored] {
                for i in 0 ..< 12 { plan.input[i] = view[i] }
                plan.forward(batch: 1, training: false)
                for k in 0 ..< 3 { average[k] += 0.5 * plan.logits[k] }
            }
            let one = softmaxCrossEntropy(average, labels: [labels[n]], batch: 1, classes: 3, nil)
            lossSum += one.lossSum; correct += one.correct
        }
        #expect(abs(result.lossSum - lossSum) < 1e-5, "\(result.lossSum) vs \(lossSum)")
        #expect(result.correct == correct)
        #expect(abs(Evaluation(plan, on: data).lossSum - lossSum) > 1e-4, "the views change the score")
    }
}

@Suite("Whitening convolution")
struct WhiteningTests {
    @Test("init: whiten sets filters v_i/√(λ_i + ε) and their negatives from the training patches; they stay frozen while the bias trains")
    func whitens() throws {
        var experiment = try Experiment.load(path: config("digits"))
        experiment.spec.model = try ModelSpec(
            SpecNode.parse(
                yaml: "input: [8, 8, 1]\nlayers:\n  - conv: {filters: 8, kernel: 2, padding: valid, init: whiten}\n  - flatten: {}\n  - dense: {units: 10}\n",
                file: "m.yaml"))
        experiment = try Experiment(spec: experiment.spec)
        experiment.spec.train.batchSize = 32
        let data = try experiment.loadData()
        let trainer = Trainer(experiment: experiment, train: data.train, validation: data.validation)
        let plan = trainer.plan
        let weightEntry = plan.parameterTable.first { $0.name == "conv1/weight" }!
        #expect(!weightEntry.spec.trainable)
        let w = Array(plan.view(of: weightEntry))  // [4 patch values, 8 filters]
        // Σ of the 2×2 patches of the training images (at most 5,000), computed here anew.
        var sigma = [Double](repeating: 0, count: 16)
        var rows = 0
        for n in 0 ..< min(5000, data.train.count) {
            for y in 0 ..< 7 {
                for x in 0 ..< 7 {
                    let p = [(0, 0), (0, 1), (1, 0), (1, 1)].map { Double(data.train.images[n * 64 + (y + $0.0) * 8 + x + $0.1]) }
                    for i in 0 ..< 4 { for j in 0 ..< 4 { sigma[i * 4 + j] += p[i] * p[j] } }
                    rows += 1
                }
            }
        }
        sigma = sigma.map { $0 / Double(rows) }
        // f_iᵀ Σ f_j = δ_ij · λ_i / (λ_i + ε): uncorrelated responses of second moment just under 1.
        let lambdas = symmetricEigen(sigma, n: 4).values
        for i in 0 ..< 4 {
            for j in 0 ..< 4 {
                var value = 0.0
                for p in 0 ..< 4 { for q in 0 ..< 4 { value += Double(w[p * 8 + i]) * sigma[p * 4 + q] * Double(w[q * 8 + j]) } }
                let expected = i == j ? lambdas[i] / (lambdas[i] + 5e-4) : 0
                #expect(abs(value - expected) < 1e-3, "filters \(i), \(j): \(value) vs \(expected)")
            }
            for p in 0 ..< 4 { #expect(w[p * 8 + 4 + i] == -w[p * 8 + i]) }
        }
        // A training step leaves the whitening weights as they are and moves the bias.
        let bias = Array(plan.view(of: plan.parameterTable.first { $0.name == "conv1/bias" }!))
        let order = epochOrder(count: data.train.count, seed: 1, epoch: 0, shuffle: true)
        data.train.fill(order: order, start: 0, count: 32, images: plan.input, labels: plan.labels)
        _ = plan.trainStep(batch: 32)
        trainer.optimizer.update(plan, learningRate: 1e-2)
        #expect(Array(plan.view(of: weightEntry)) == w)
        #expect(Array(plan.view(of: plan.parameterTable.first { $0.name == "conv1/bias" }!)) != bias)
    }
}

@Suite("Lookahead averaging of the weights", .serialized)
struct LookaheadTests {
    @Test("every k steps: ema ← d·ema + (1 − d)·w and w ← ema, d = decay^k · (t/T)^power; after the last step w ← ema")
    func formula() throws {
        let graph = try Graph(ModelSpec(SpecNode.parse(yaml: "input: [3]\nlayers:\n  - dense: {units: 2}\n  - batchnorm: {}\n", file: "m.yaml")))
        let plan = Plan(graph: graph, capacity: 1, seed: 1)
        let spec = LookaheadSpec(every: 5, decay: 0.9, power: 2)
        let lookahead = Lookahead(spec, plan: plan, totalSteps: 10)
        let start = Array(plan.parameters), startState = Array(plan.state)
        // The weights and the state move; steps 1–4 leave them alone.
        for i in plan.parameters.indices { plan.parameters[i] += Float(i + 1) }
        for i in plan.state.indices { plan.state[i] += 0.5 }
        let moved = Array(plan.parameters), movedState = Array(plan.state)
        for step in 1 ... 4 { lookahead.afterStep(step, plan: plan) }
        #expect(Array(plan.parameters) == moved)
        lookahead.afterStep(5, plan: plan)
        let d = Float(pow(0.9, 5.0) * pow(0.5, 2.0))  // t/T = 5/10
        for i in plan.parameters.indices {
            let expected = d * start[i] + (1 - d) * moved[i]
            #expect(abs(plan.parameters[i] - expected) <= 1e-6 * max(1, abs(expected)))
            #expect(lookahead.parameters[i] == plan.parameters[i])
        }
        for i in plan.state.indices { #expect(abs(plan.state[i] - (d * startState[i] + (1 - d) * movedState[i])) <= 1e-6) }
        // The last step: the periodic average (d = 0.9^5), then the average is the weights.
        let before = lookahead.parameters
        for i in plan.parameters.indices { plan.parameters[i] = 7 }
        lookahead.afterStep(10, plan: plan)
        let last = Float(pow(0.9, 5.0))
        for i in plan.parameters.indices { #expect(abs(plan.parameters[i] - (last * before[i] + (1 - last) * 7)) <= 1e-5) }
    }

    @Test("a lookahead run stopped and resumed ends bit-identical to one that never stopped", arguments: [23, 45])
    func exactResume(stopAt: Int) throws {
        var experiment = try shortDigits()
        experiment.spec.train.lookahead = LookaheadSpec(every: 5, decay: 0.95, power: 3)
        let reference = try temporaryDirectory(), resumed = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: reference); try? FileManager.default.removeItem(at: resumed) }
        let full = try trainInto(reference, experiment)
        #expect(try trainInto(resumed, experiment, stopAt: stopAt).status == .interrupted)
        let second = try trainInto(resumed, experiment)
        #expect(second.status == .completed)
        #expect(comparable(second.history) == comparable(full.history))
        let a = try SafeTensors.decode(Data(contentsOf: reference.appendingPathComponent("checkpoints/step-69.safetensors")), file: "a")
        let b = try SafeTensors.decode(Data(contentsOf: resumed.appendingPathComponent("checkpoints/step-69.safetensors")), file: "b")
        #expect(a.names == b.names)
        #expect(a.names.contains { $0.hasPrefix("lookahead/") })
        for name in a.names {
            let same = a.tensors[name]!.values == b.tensors[name]!.values
            #expect(same, "\(name) differs")
        }
        // Without lookahead the same run differs: the averaging does something.
        let plain = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: plain) }
        var without = experiment
        without.spec.train.lookahead = nil
        #expect(comparable(try trainInto(plain, without).history) != comparable(full.history))
    }
}

import Foundation
import Graph
import Layers
import Plan
import Spec
import Tensor
import Testing

func graph(_ yaml: String) throws -> Graph {
    try Graph(ModelSpec(SpecNode.parse(yaml: yaml, file: "test.yaml")))
}

/// A small residual network: a fan-out (conv1 feeds two branches), an add, a concat, batchnorm.
let residualModel = """
    input: [6, 6, 2]
    layers:
      - conv: {filters: 4, kernel: 3, activation: relu, name: stem}
      - conv: {filters: 4, kernel: 3, name: branch}
      - batchnorm: {name: normed}
      - add: {inputs: [stem, normed], name: sum}
      - relu: {}
      - concat: {inputs: [relu1, stem]}
      - avgpool: {size: 2}
      - flatten: {}
      - dense: {units: 3}
    """

@Suite("The compiled plan")
struct PlanTests {
    @Test("no two slots that are live at the same step share memory")
    func packing() throws {
        for capacity in [1, 7, 32] {
            let plan = Plan(graph: try graph(residualModel), capacity: capacity)
            for (i, a) in plan.slots.enumerated() {
                #expect(a.offset % 16 == 0)
                #expect(a.offset + a.count <= plan.arena.count)
                for b in plan.slots[(i + 1)...] where a.firstStep <= b.lastStep && b.firstStep <= a.lastStep {
                    let disjoint = a.offset + a.count <= b.offset || b.offset + b.count <= a.offset
                    #expect(disjoint, "\(a) overlaps \(b)")
                }
            }
            #expect(plan.arena.count < plan.naiveArenaCount)
        }
    }

    @Test("the packer reuses memory of slots whose lives do not overlap")
    func packerReuses() {
        let slots = [
            Slot(name: "a", role: .activation, offset: 0, count: 100, firstStep: 0, lastStep: 1),
            Slot(name: "b", role: .activation, offset: 0, count: 100, firstStep: 2, lastStep: 3),
            Slot(name: "c", role: .activation, offset: 0, count: 50, firstStep: 1, lastStep: 2),
        ]
        let (packed, size) = packSlots(slots)
        #expect(packed[0].offset == packed[1].offset)  // a and b never live together
        #expect(size == 176)  // c starts at 112 (100 rounded up to 16 floats), ends at 162 → 176
    }

    @Test("whole-network gradients through a DAG match finite differences")
    func networkGradient() throws {
        let g = try graph(residualModel)
        let plan = Plan(graph: g, capacity: 4, seed: 3)
        var random = RandomSource(seed: 4)
        for i in plan.input.indices { plan.input[i] = random.uniform(-1, 1) }
        for i in plan.labels.indices { plan.labels[i] = Int32(random.below(3)) }
        // Batchnorm in training mode updates its running statistics on every forward; the loss
        // does not depend on them, so repeated forwards are fine.
        func loss() -> Double {
            plan.forward(batch: 4, training: true)
            return plan.loss(batch: 4, gradient: false).lossSum / 4
        }
        _ = plan.trainStep(batch: 4)
        let analytic = Array(plan.gradients)
        var worst = 0.0, checked = 0
        for index in stride(from: 0, to: plan.parameters.count, by: 3) {
            let original = plan.parameters[index]
            plan.parameters[index] = original + 1e-3; let plus = loss()
            plan.parameters[index] = original - 1e-3; let minus = loss()
            plan.parameters[index] = original; let center = loss()
            if abs((plus - center) - (center - minus)) > 1e-2 * 1e-3 * max(1, abs(plus - center) / 1e-3) { continue }  // kink
            let numeric = (plus - minus) / 2e-3
            worst = max(worst, abs(numeric - Double(analytic[index])) / max(1, abs(numeric)))
            checked += 1
        }
        #expect(checked > plan.parameters.count / 4)
        #expect(worst < 5e-3, "worst relative error \(worst)")
    }

    @Test("init: dirac passes a convolution's and a dense layer's input through on their first outputs; the others stay random")
    func diracInit() throws {
        for kernel in [3, 2, 1] {
            let plan = Plan(
                graph: try graph(
                    "input: [5, 4, 2]\nlayers:\n  - conv: {filters: 3, kernel: \(kernel), init: dirac, use_bias: false}\n"
                        + "  - flatten: {}\n  - dense: {units: 40, init: dirac}\n"),
                capacity: 2, seed: 9)  // trainable: every activation lives to the end of the step, conv1's too
            var random = RandomSource(seed: 10)
            for i in plan.input.indices { plan.input[i] = random.uniform(-1, 1) }
            plan.forward(batch: 2, training: false)
            // conv1's output: channels 0 and 1 are the input's channels 0 and 1 (same padding);
            // channel 2 is a random filter's response.
            let conv = plan.slots.first { $0.name == "conv1/output" }!
            let y = plan.arena.slice(conv.offset, conv.count)
            var third: [Float] = []
            for n in 0 ..< 2 {
                for p in 0 ..< 20 {
                    #expect(y[(n * 20 + p) * 3] == plan.input[(n * 20 + p) * 2], "kernel \(kernel)")
                    #expect(y[(n * 20 + p) * 3 + 1] == plan.input[(n * 20 + p) * 2 + 1], "kernel \(kernel)")
                    third.append(y[(n * 20 + p) * 3 + 2])
                }
            }
            #expect(third.contains { $0 != 0 })
            // dense1 (60 → 40, fewer units than inputs): unit j reads input j, the first 40 of conv1's 60.
            for n in 0 ..< 2 { for j in 0 ..< 40 { #expect(plan.logits[n * 40 + j] == y[n * 60 + j]) } }
        }
    }

    @Test("a short batch on a larger plan gives the same result as a plan of its size")
    func shortBatch() throws {
        let g = try graph(residualModel)
        let big = Plan(graph: g, capacity: 8, seed: 5), small = Plan(graph: g, capacity: 3, seed: 5)
        var random = RandomSource(seed: 6)
        for i in 0 ..< 3 * g.input.count {
            let value = random.uniform(-1, 1)
            big.input[i] = value; small.input[i] = value
        }
        for i in 0 ..< 3 { big.labels[i] = Int32(i); small.labels[i] = Int32(i) }
        let a = big.trainStep(batch: 3), b = small.trainStep(batch: 3)
        #expect(a.lossSum == b.lossSum)
        #expect(Array(big.gradients) == Array(small.gradients))
    }

    @Test("initialisation follows the seed and the initializer's scale")
    func initialisation() throws {
        let g = try graph("input: [100]\nlayers:\n  - dense: {units: 300, init: he_normal}\n  - dense: {units: 10}\n")
        let a = Plan(graph: g, capacity: 1, seed: 1), b = Plan(graph: g, capacity: 1, seed: 1), c = Plan(graph: g, capacity: 1, seed: 2)
        #expect(Array(a.parameters) == Array(b.parameters))
        #expect(Array(a.parameters) != Array(c.parameters))
        let weight = Array(a.parameters[0 ..< 30000])
        let variance = weight.reduce(0) { $0 + Double($1 * $1) } / 30000
        #expect(abs(variance - 2.0 / 100) < 0.002)  // He normal: 2 / fanIn
        let bias = Array(a.parameters[30000 ..< 30300])
        #expect(bias.allSatisfy { $0 == 0 })
        let second = Array(a.parameters[30300 ..< 33300])
        let limit = Float((6.0 / 310).squareRoot())  // Glorot uniform
        #expect(second.allSatisfy { abs($0) <= limit } && second.contains { abs($0) > 0.9 * limit })
        // torch_uniform: U(±1/√fanIn), PyTorch's default (fan in 100: ±0.1, variance 0.1²/3).
        let torch = Plan(graph: try graph("input: [100]\nlayers:\n  - dense: {units: 300, init: torch_uniform}\n"), capacity: 1, seed: 1)
        let torchWeight = Array(torch.parameters[0 ..< 30000])
        #expect(torchWeight.allSatisfy { abs($0) <= 0.1 } && torchWeight.contains { abs($0) > 0.099 })
        #expect(abs(torchWeight.reduce(0) { $0 + Double($1 * $1) } / 30000 - 0.01 / 3) < 0.0003)
    }
}

import AllocationCounter
import Graph
import Kernels
import Layers
import Plan
import Spec
import Tensor
import Testing

/// One network per gradient-check case of every registered kind, written as a spec:
///   input → a 1×1 conv (or dense) per input of the kind → the kind → flatten → dense 3
/// The layers before the kind have parameters, so their gradients flow through the kind's
/// backward; the dense after it turns any output into logits. A kind added to the registry is
/// covered by every test below without a line of test code.
struct RegistryNetwork: CustomStringConvertible {
    let kind: String
    let testCase: GradientCheckCase
    /// The kind reads the network's input itself (no layer before it, so no input gradient):
    /// its parameters must still get theirs.
    let first: Bool
    let yaml: String

    init(kind: String, testCase: GradientCheckCase, first: Bool = false) {
        self.kind = kind
        self.testCase = testCase
        self.first = first
        let input = testCase.inputs[0]
        var lines = ["input: [\(input.dimensions.map(String.init).joined(separator: ", "))]", "layers:"]
        let options = testCase.options.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        if first {
            lines += ["  - \(kind): {\((options + ["name: subject"]).joined(separator: ", "))}", "  - flatten: {}", "  - dense: {units: 3}"]
            yaml = lines.joined(separator: "\n") + "\n"
            return
        }
        for (index, shape) in testCase.inputs.enumerated() {
            // Each input of the kind is computed from the network's input by a layer with
            // parameters: a 1×1 conv keeps height and width and sets the channels, a dense the size.
            let feed = shape.rank == 1 ? "dense: {units: \(shape[0])" : "conv: {filters: \(shape.channels), kernel: 1"
            lines.append("  - \(feed), inputs: [input], name: feed\(index)}")
        }
        let inputs = "inputs: [\(testCase.inputs.indices.map { "feed\($0)" }.joined(separator: ", "))]"
        lines.append("  - \(kind): {\((options + [inputs, "name: subject"]).joined(separator: ", "))}")
        lines.append("  - flatten: {}")
        lines.append("  - dense: {units: 3}")
        yaml = lines.joined(separator: "\n") + "\n"
    }

    /// Every case of every registered kind, after feed layers; and each single-input case
    /// again as the network's first layer.
    static var all: [RegistryNetwork] {
        LayerRegistry.kinds.flatMap { type in
            type.gradientCheckCases.flatMap { testCase in
                [RegistryNetwork(kind: type.kind, testCase: testCase)]
                    + (testCase.inputs.count == 1 ? [RegistryNetwork(kind: type.kind, testCase: testCase, first: true)] : [])
            }
        }
    }

    func plan(workers: Int = 1, capacity: Int = 5) throws -> Plan {
        Plan(graph: try graph(yaml), capacity: capacity, seed: 11, workers: workers)
    }

    /// Random inputs and labels for `plan`'s whole capacity.
    static func fill(_ plan: Plan, seed: UInt64 = 12) {
        var random = RandomSource(seed: seed)
        for i in plan.input.indices { plan.input[i] = (random.uniformFloat() < 0.5 ? -1 : 1) * random.uniform(0.1, 1) }
        for i in plan.labels.indices { plan.labels[i] = Int32(random.below(3)) }
    }

    var description: String { "\(kind) \(testCase.options) on \(testCase.inputs)\(first ? ", first layer" : "")" }
}

@Suite("Every registered layer kind inside a network")
struct RegistryNetworkTests {
    @Test("its network's parameter gradients match finite differences", arguments: RegistryNetwork.all)
    func networkGradients(network: RegistryNetwork) throws {
        let plan = try network.plan()
        RegistryNetwork.fill(plan)
        let batch = plan.capacity
        // The same dropout masks on every forward: each pass starts from the same stream.
        let dropoutStream = plan.context.random
        func loss() -> Double {
            plan.context.random = dropoutStream
            plan.forward(batch: batch, training: true)
            return plan.loss(batch: batch, gradient: false).lossSum / Double(batch)
        }
        plan.context.random = dropoutStream
        _ = plan.trainStep(batch: batch)
        let analytic = Array(plan.gradients)
        let epsilon: Float = 1e-3
        var worst = 0.0, checked = 0, total = 0
        for slot in plan.parameterTable where slot.spec.trainable {
            for index in slot.offset ..< slot.offset + slot.spec.count {
                total += 1
                let original = plan.parameters[index]
                plan.parameters[index] = original + epsilon; let plus = loss()
                plan.parameters[index] = original - epsilon; let minus = loss()
                plan.parameters[index] = original; let center = loss()
                let step = Double(epsilon)
                // Central differences; an element whose one-sided differences disagree sits on
                // a kink (ReLU at 0, a max-pool tie) and is skipped.
                if abs((plus - center) - (center - minus)) > 1e-2 * step * max(1, abs(plus - center) / step) { continue }
                let numeric = (plus - minus) / (2 * step)
                worst = max(worst, abs(numeric - Double(analytic[index])) / max(1, abs(numeric)))
                checked += 1
            }
        }
        #expect(Double(checked) >= 0.8 * Double(total), "\(network): only \(checked) of \(total) checked")
        #expect(worst < 5e-3, "\(network): worst relative error \(worst)")
    }

    @Test("its network gives the same loss and gradients on two workers as on one", arguments: RegistryNetwork.all)
    func workersAgree(network: RegistryNetwork) throws {
        let one = try network.plan(workers: 1), two = try network.plan(workers: 2)
        RegistryNetwork.fill(one); RegistryNetwork.fill(two)
        let a = one.trainStep(batch: one.capacity), b = two.trainStep(batch: two.capacity)
        #expect(abs(a.lossSum - b.lossSum) <= 1e-5 * max(1, abs(a.lossSum)), "\(network): loss \(a.lossSum) vs \(b.lossSum)")
        let differences = zip(one.gradients, two.gradients).map { abs($0 - $1) / max(1, abs($0)) }
        #expect((differences.max() ?? 0) <= 1e-5, "\(network): gradients differ by up to \(differences.max() ?? 0)")
    }

    @Test("its network's training step and inference allocate nothing on two worker threads", arguments: RegistryNetwork.all)
    func allocationFree(network: RegistryNetwork) throws {
        let plan = try network.plan(workers: 2, capacity: 6)
        #expect(plan.context.compute.workers == 2)
        RegistryNetwork.fill(plan)
        let pool = plan.context.compute.pool
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: pool.count)
        defer { counts.deallocate() }
        _ = plan.trainStep(batch: 6); _ = plan.trainStep(batch: 5)  // warm-up: lazy initialisation in the libraries
        // Count on every worker thread, the caller included. (The pool's closure form, used
        // here to reach the other workers, allocates on the caller: the caller counts apart.)
        pool.run { worker in if worker > 0 { allocation_counter_start() } }
        allocation_counter_start()
        _ = plan.trainStep(batch: 6)
        _ = plan.trainStep(batch: 5)
        _ = plan.trainStep(batch: 6)
        plan.forward(batch: 3, training: false)
        _ = plan.loss(batch: 3, gradient: false)
        counts[0] = allocation_counter_stop()
        pool.run { worker in if worker > 0 { counts[worker] = allocation_counter_stop() } }
        let perWorker = (0 ..< pool.count).map { counts[$0] }
        #expect(perWorker.allSatisfy { $0 == 0 }, "\(network): allocations per worker \(perWorker)")
    }
}

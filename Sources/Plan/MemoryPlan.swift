import Graph

/// Every slot a plan needs and its live range, before packing. Steps are numbered: forward of
/// node i is step i (n nodes), the loss is step n, backward of node i is step 2n − i.
struct SlotLayout {
    private(set) var slots: [Slot] = []
    private(set) var input = 0
    /// Per node: its output's slot, its output gradient's (training only), and its buffers' in
    /// forward and in backward (saved buffers are the same slot in both; scratch is not).
    private(set) var outputs: [Int] = [], gradients: [Int?] = []
    private(set) var forwardBuffers: [[Int]] = [], backwardBuffers: [[Int]] = []
    /// Per node: the step that first writes its output gradient (−1 when not training).
    private(set) var firstGradientWriter: [Int]

    init(graph: Graph, capacity: Int, trainable: Bool, workers: Int) {
        let n = graph.nodes.count
        let lossStep = n
        func backwardStep(_ i: Int) -> Int { 2 * n - i }
        // Consumers of each node, for activation lifetimes.
        var consumers = [[Int]](repeating: [], count: n)
        for (index, node) in graph.nodes.enumerated() {
            for case .node(let source) in node.inputs { consumers[source].append(index) }
        }
        firstGradientWriter = [Int](repeating: -1, count: n)
        let lastStep = trainable ? 2 * n : n
        input = add("input", .input, capacity * graph.input.count, 0, lastStep)
        for (index, node) in graph.nodes.enumerated() {
            let count = capacity * node.outputShape.count
            let lastRead: Int
            if trainable {
                lastRead = backwardStep(index)  // its own backward reads it last
            } else {
                lastRead = max(consumers[index].max() ?? index, index == graph.output ? lossStep : index)
            }
            outputs.append(add("\(node.name)/output", .activation, count, index, lastRead))
            if trainable {
                // Written first by the latest consumer's backward (or the loss), read by its own backward.
                let first = index == graph.output ? lossStep : (consumers[index].map(backwardStep).min() ?? backwardStep(index))
                firstGradientWriter[index] = first
                gradients.append(add("\(node.name)/d_output", .gradient, count, first, backwardStep(index)))
            } else {
                gradients.append(nil)
            }
            let specs = node.layer.buffers(inputs: node.inputShapes, output: node.outputShape, capacity: capacity, workers: workers)
            var forward: [Int] = [], backward: [Int] = []
            for spec in specs {
                switch spec.role {
                case .saved:
                    let slot = add("\(node.name)/\(spec.name)", .saved, spec.floats, index, trainable ? backwardStep(index) : index)
                    forward.append(slot); backward.append(slot)
                case .scratch:
                    forward.append(add("\(node.name)/\(spec.name)", .scratch, spec.floats, index, index))
                    if trainable {
                        backward.append(add("\(node.name)/\(spec.name)@backward", .scratch, spec.floats, backwardStep(index), backwardStep(index)))
                    }
                }
            }
            forwardBuffers.append(forward)
            backwardBuffers.append(backward)
        }
    }

    private mutating func add(_ name: String, _ role: Slot.Role, _ count: Int, _ first: Int, _ last: Int) -> Int {
        slots.append(Slot(name: name, role: role, offset: 0, count: count, firstStep: first, lastStep: last))
        return slots.count - 1
    }
}

/// One tensor's place in the activation arena and the steps during which it holds live data.
public struct Slot: Sendable, CustomStringConvertible {
    public enum Role: String, Sendable {
        case input, activation, gradient, saved, scratch
    }
    public var name: String
    public var role: Role
    /// Floats (not bytes) from the arena's start, and length in floats.
    public var offset: Int
    public var count: Int
    /// First and last step (inclusive) that write or read it.
    public var firstStep: Int
    public var lastStep: Int

    public init(name: String, role: Role, offset: Int, count: Int, firstStep: Int, lastStep: Int) {
        self.name = name; self.role = role; self.offset = offset; self.count = count; self.firstStep = firstStep; self.lastStep = lastStep
    }

    public var description: String {
        "\(name) [\(role.rawValue)] offset \(offset) floats \(count) steps \(firstStep)…\(lastStep)"
    }

    func overlapsInTime(_ other: Slot) -> Bool { firstStep <= other.lastStep && other.firstStep <= lastStep }
    func overlapsInMemory(_ other: Slot) -> Bool { offset < other.offset + other.count && other.offset < offset + count }
}

/// Packs slots into one arena: two slots may share memory when their live step ranges are
/// disjoint. Greedy, largest first, each at the lowest offset that fits between the slots
/// already placed that are live at the same time (ggml's and tinygrad's planners work alike).
/// Offsets are multiples of 16 floats (64 bytes, a cache line).
public func packSlots(_ slots: [Slot]) -> (slots: [Slot], arenaCount: Int) {
    let alignment = 16
    func aligned(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }
    var placed: [Slot] = []
    var order = Array(slots.indices)
    order.sort { slots[$0].count != slots[$1].count ? slots[$0].count > slots[$1].count : $0 < $1 }
    var result = slots
    var arenaCount = 0
    for index in order {
        var slot = slots[index]
        let conflicts = placed.filter { $0.overlapsInTime(slot) }.sorted { $0.offset < $1.offset }
        var offset = 0
        for other in conflicts {
            if offset + slot.count <= other.offset { break }
            offset = max(offset, aligned(other.offset + other.count))
        }
        slot.offset = offset
        placed.append(slot)
        result[index] = slot
        arenaCount = max(arenaCount, offset + slot.count)
    }
    return (result, aligned(arenaCount))
}

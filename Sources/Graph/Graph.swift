import Layers
import Spec
import Tensor

/// The validated layer DAG: nodes in an order where every node comes after its inputs, every
/// shape inferred, parameters and FLOPs counted. Built once from a `ModelSpec`.
public struct Graph {
    public var input: Shape
    public var nodes: [GraphNode]
    /// The node whose output the loss reads: the last layer listed.
    public var output: Int

    public var parameterCount: Int { nodes.reduce(0) { $0 + $1.parameterCount } }
    public var trainableParameterCount: Int { nodes.reduce(0) { $0 + $1.parameters.filter(\.trainable).reduce(0) { $0 + $1.count } } }
    public var flopsPerExample: Int { nodes.reduce(0) { $0 + $1.flops } }
    public var outputShape: Shape { nodes[output].outputShape }
}

/// Where a node reads from: the network's input or another node's output.
public enum NodeInput: Hashable, Sendable {
    case networkInput
    case node(Int)
}

public struct GraphNode {
    /// `name:` from the spec, else the kind and its count (`conv1`, `conv2`, `dense1`).
    public var name: String
    public var kind: String
    public var layer: any Layer
    public var inputs: [NodeInput]
    public var inputShapes: [Shape]
    public var outputShape: Shape
    public var parameters: [ParameterSpec]
    /// Forward FLOPs per example.
    public var flops: Int
    public var location: SpecLocation

    public var parameterCount: Int { parameters.reduce(0) { $0 + $1.count } }
}

extension Graph {
    /// Names, wires, orders and shapes the model's layers; every problem is a located `SpecError`.
    public init(_ model: ModelSpec) throws(SpecError) {
        input = model.input
        // 1. Names: given, or kind + running count per kind.
        var names: [String] = []
        var perKind: [String: Int] = [:]
        var seen: [String: SpecLocation] = [:]
        for layer in model.layers {
            perKind[layer.kind, default: 0] += 1
            let name = layer.name ?? "\(layer.kind)\(perKind[layer.kind]!)"
            if let earlier = seen[name] {
                throw SpecError(
                    layer.location, "two layers are named '\(name)' (the other is at \(earlier.line):\(earlier.column))",
                    hint: "give each layer a distinct name:")
            }
            seen[name] = layer.location
            names.append(name)
        }
        // 2. Wires: `inputs:` by name, else the previous layer (or the network input).
        var wiring: [[NodeInput]] = []
        for (index, layer) in model.layers.enumerated() {
            guard let inputs = layer.inputs else {
                wiring.append([index == 0 ? .networkInput : .node(index - 1)])
                continue
            }
            var resolved: [NodeInput] = []
            for (name, location) in inputs {
                if name == "input" { resolved.append(.networkInput); continue }
                guard let source = names.firstIndex(of: name) else {
                    let hint = suggestion(for: name, among: names + ["input"]).map { "did you mean '\($0)'? " } ?? ""
                    throw SpecError(
                        location, "layer '\(names[index])' reads '\(name)', but no layer has that name",
                        hint: hint + "known names: input, \(names.joined(separator: ", "))")
                }
                guard source != index else {
                    throw SpecError(location, "layer '\(name)' reads its own output", hint: "inputs: must name other layers")
                }
                resolved.append(.node(source))
            }
            wiring.append(resolved)
        }
        // 3. Order: depth-first from the list, so a cycle is found with its path.
        var order: [Int] = []
        var state = [Int](repeating: 0, count: model.layers.count)  // 0 new, 1 on the path, 2 done
        var path: [Int] = []
        func visit(_ index: Int) throws(SpecError) {
            if state[index] == 2 { return }
            if state[index] == 1 {
                let cycle = path[path.firstIndex(of: index)!...] + [index]
                throw SpecError(
                    model.layers[index].location, "layers form a cycle: \(cycle.map { "'\(names[$0])'" }.joined(separator: " → "))",
                    hint: "a layer's inputs: must not depend on the layer itself")
            }
            state[index] = 1
            path.append(index)
            for case .node(let source) in wiring[index] { try visit(source) }
            path.removeLast()
            state[index] = 2
            order.append(index)
        }
        for index in model.layers.indices { try visit(index) }
        // 4. Shapes, parameters, FLOPs, in that order.
        var position = [Int](repeating: 0, count: model.layers.count)
        for (newIndex, oldIndex) in order.enumerated() { position[oldIndex] = newIndex }
        var built: [GraphNode] = []
        for oldIndex in order {
            let spec = model.layers[oldIndex]
            let inputs = wiring[oldIndex].map { source -> NodeInput in
                if case .node(let old) = source { return .node(position[old]) }
                return .networkInput
            }
            let inputShapes = inputs.map { source -> Shape in
                if case .node(let index) = source { return built[index].outputShape }
                return model.input
            }
            let outputShape: Shape
            do {
                outputShape = try spec.layer.outputShape(inputs: inputShapes)
            } catch {
                throw SpecError(spec.location, "layer '\(names[oldIndex])' (\(spec.kind)): \(error.message)", hint: error.hint)
            }
            let parameters = spec.layer.parameters(inputs: inputShapes)
            let count = parameters.reduce(0) { $0 + $1.count }
            guard count <= 1 << 28, outputShape.count <= 1 << 28 else {
                throw SpecError(
                    spec.location, "layer '\(names[oldIndex])' is too large: \(count) parameters, output \(outputShape)",
                    hint: "runner holds at most 2^28 values per tensor; use fewer units or filters")
            }
            built.append(
                GraphNode(
                    name: names[oldIndex], kind: spec.kind, layer: spec.layer, inputs: inputs, inputShapes: inputShapes,
                    outputShape: outputShape, parameters: parameters,
                    flops: spec.layer.flops(inputs: inputShapes, output: outputShape), location: spec.location))
        }
        nodes = built
        output = position[model.layers.count - 1]
    }

    /// Checks that the output suits a classifier over `classes` classes.
    public func checkClassifier(classes: Int, location: SpecLocation) throws(SpecError) {
        let last = nodes[output]
        guard last.outputShape.rank == 1, last.outputShape[0] == classes else {
            throw SpecError(
                last.location, "the last layer '\(last.name)' outputs \(last.outputShape), but the dataset has \(classes) classes",
                hint: "end the model with '- dense: {units: \(classes)}' (after a flatten or global_avgpool)")
        }
    }
}

import Graph
import Kernels
import Layers
import Spec
import Tensor

/// A runner value as it lives in the ONNX graph. Images ([H, W, C] to runner, NHWC in memory)
/// are NCHW there, because ONNX's Conv and pooling operators take channels first; vectors ([F])
/// are [N, F] in both. `Flatten` turns NCHW back into NHWC order before it flattens, so dense
/// weights read their inputs in the order they were trained on.
struct ExportedValue {
    var name: String
    var shape: Shape
}

/// Translates each layer of a graph into ONNX operators, in inference mode (dropout is the
/// identity, batchnorm uses its running statistics). Every kind runner knows is translated
/// here; a kind this file does not know is refused at its line in the spec.
struct LayerExporter {
    var builder = GraphBuilder()
    /// Each parameter's values by its checkpoint name (`conv1/weight`), as the layer holds it.
    let parameters: [String: [Float]]

    func parameter(_ name: String) -> [Float] { parameters[name] ?? [] }

    /// Appends `node`'s operators reading `inputs`; returns the name of its output value.
    mutating func export(_ node: GraphNode, _ inputs: [ExportedValue], outputName name: String) throws(SpecError) -> String {
        let x = inputs[0]
        switch node.layer {
        case let conv as Conv:
            return activation(conv.activation, convolution(conv, x, node: node, name: name), name: name)
        case let dense as Dense:
            // Gemm: Y = X · W + B with W as runner stores it, [inputs, units].
            let weight = builder.constant("\(node.name)/weight", shape: [x.shape.count, dense.units], parameter("\(node.name)/weight"))
            var operands = [x.name, weight]
            if dense.useBias { operands.append(builder.constant("\(node.name)/bias", shape: [dense.units], parameter("\(node.name)/bias"))) }
            let product = builder.node("Gemm", operands, name: dense.activation == .linear ? name : "\(node.name)/gemm")
            return activation(dense.activation, product, name: name)
        case is ReLU:
            return builder.node("Relu", [x.name], name: name)
        case is GELU:
            return gelu(x.name, name: name)
        case let scale as Scale:
            let factor = builder.constant("\(node.name)/factor", shape: [], [Float(scale.factor)])
            return builder.node("Mul", [x.name, factor], name: name)
        case let pool as MaxPool:
            return builder.node("MaxPool", [x.name], name: name, windowAttributes(pool.pool.window(x.shape)))
        case let pool as AvgPool:
            // Padding cells are not counted, as in runner's average (count_include_pad = 0).
            let attributes = windowAttributes(pool.pool.window(x.shape)) + [Attribute.int("count_include_pad", 0)]
            return builder.node("AveragePool", [x.name], name: name, attributes)
        case is GlobalAvgPool:
            let pooled = builder.node("GlobalAveragePool", [x.name], name: "\(node.name)/pool")  // [N, C, 1, 1]
            return builder.node("Flatten", [pooled], name: name, [Attribute.int("axis", 1)])
        case is Dropout:
            // Inference: the identity (inverted dropout scaled in training).
            return builder.node("Identity", [x.name], name: name)
        case is Flatten:
            if x.shape.rank == 1 { return builder.node("Identity", [x.name], name: name) }
            guard x.shape.rank == 3 else { return builder.node("Flatten", [x.name], name: name, [Attribute.int("axis", 1)]) }
            let channelsLast = builder.node("Transpose", [x.name], name: "\(node.name)/nhwc", [Attribute.ints("perm", [0, 2, 3, 1])])
            return builder.node("Flatten", [channelsLast], name: name, [Attribute.int("axis", 1)])
        case let norm as BatchNorm:
            // y = γ · (x − running_mean) / √(running_variance + ε) + β, channels on axis 1.
            guard x.shape.rank == 1 || x.shape.rank == 3 else {
                throw refusal(node, "ONNX's BatchNormalization takes channels on axis 1, and a \(x.shape) input keeps them last")
            }
            let channels = [x.shape.channels]
            let operands = ["gamma", "beta", "running_mean", "running_variance"].map {
                builder.constant("\(node.name)/\($0)", shape: channels, parameter("\(node.name)/\($0)"))
            }
            return builder.node("BatchNormalization", [x.name] + operands, name: name, [Attribute.float("epsilon", Float(norm.epsilon))])
        case is Add:
            return builder.node("Add", inputs.map(\.name), name: name)
        case is Concat:
            // Channels are axis 1 of NCHW images and of [N, F] vectors; the last axis otherwise.
            let axis = x.shape.rank == 3 ? 1 : x.shape.rank
            return builder.node("Concat", inputs.map(\.name), name: name, [Attribute.int("axis", axis)])
        default:
            throw refusal(node, "runner has no ONNX translation for \(node.kind)")
        }
    }

    /// The located refusal of a layer that cannot be exported, naming it, its kind and why.
    func refusal(_ node: GraphNode, _ reason: String) -> SpecError {
        SpecError(
            node.location, "layer '\(node.name)' (\(node.kind)) cannot be exported to ONNX: \(reason)",
            hint: "runner exports \(LayerExporter.exportedKinds.joined(separator: ", ")) (Sources/ONNX/LayerExport.swift)")
    }

    /// The kinds `export(_:_:outputName:)` translates.
    static let exportedKinds = [
        "add", "avgpool", "batchnorm", "concat", "conv", "dense", "dropout", "flatten", "gelu", "global_avgpool", "maxpool", "relu", "scale",
    ]

    /// Conv with runner's HWIO weight [K, K, C, F] transposed to ONNX's OIHW [F, C, K, K].
    mutating func convolution(_ conv: Conv, _ x: ExportedValue, node: GraphNode, name: String) -> String {
        let channels = x.shape.channels, k = conv.kernel, f = conv.filters
        let hwio = parameter("\(node.name)/weight")
        var oihw = [Float](repeating: 0, count: hwio.count)
        for ky in 0 ..< k {
            for kx in 0 ..< k {
                for c in 0 ..< channels {
                    for o in 0 ..< f { oihw[((o * channels + c) * k + ky) * k + kx] = hwio[((ky * k + kx) * channels + c) * f + o] }
                }
            }
        }
        var operands = [x.name, builder.constant("\(node.name)/weight", shape: [f, channels, k, k], oihw)]
        if conv.useBias { operands.append(builder.constant("\(node.name)/bias", shape: [f], parameter("\(node.name)/bias"))) }
        let window = Window2D(
            inputHeight: x.shape[0], inputWidth: x.shape[1], channels: channels, kernel: k, stride: conv.stride, padding: conv.padding)
        return builder.node(
            "Conv", operands, name: conv.activation == .linear ? name : "\(node.name)/conv", windowAttributes(window) + [Attribute.int("group", 1)])
    }

    /// kernel_shape, strides and pads [top, left, bottom, right] of a window. runner pads
    /// `padTop` before (TensorFlow's rule puts the smaller half there) and as many cells after
    /// as the last window reaches past the input: (OH − 1)·S + K − H − top, never negative.
    func windowAttributes(_ g: Window2D) -> [Onnx_AttributeProto] {
        let bottom = max(0, (g.outputHeight - 1) * g.stride + g.kernelHeight - g.inputHeight - g.padTop)
        let right = max(0, (g.outputWidth - 1) * g.stride + g.kernelWidth - g.inputWidth - g.padLeft)
        return [
            Attribute.ints("kernel_shape", [g.kernelHeight, g.kernelWidth]), Attribute.ints("strides", [g.stride, g.stride]),
            Attribute.ints("pads", [g.padTop, g.padLeft, bottom, right]),
        ]
    }

    /// A conv or dense layer's fused activation after its product `value`.
    mutating func activation(_ activation: Activation, _ value: String, name: String) -> String {
        switch activation {
        case .linear: value
        case .relu: builder.node("Relu", [value], name: name)
        case .gelu: gelu(value, name: name)
        }
    }

    /// y = x · ½ · (1 + erf(x / √2)), the exact GELU, from opset-13 operators (ONNX's own Gelu
    /// arrived in opset 20, which older runtimes lack).
    mutating func gelu(_ x: String, name: String) -> String {
        let inverseRoot2 = builder.constant("\(name)/gelu_inverse_sqrt2", shape: [], [Float(0.5.squareRoot())])
        let one = builder.constant("\(name)/gelu_one", shape: [], [1])
        let half = builder.constant("\(name)/gelu_half", shape: [], [0.5])
        let scaled = builder.node("Mul", [x, inverseRoot2], name: "\(name)/gelu_scaled")
        let erf = builder.node("Erf", [scaled], name: "\(name)/gelu_erf")
        let cdfTwice = builder.node("Add", [erf, one], name: "\(name)/gelu_cdf2")
        let gated = builder.node("Mul", [x, cdfTwice], name: "\(name)/gelu_gated")
        return builder.node("Mul", [gated, half], name: name)
    }
}

import Foundation

/// Builds an ONNX graph one operator at a time: each call appends a node (or a constant
/// initializer) and returns the name of the value it produces, so a layer's translation reads
/// as the formula it computes (`builder.node("Relu", [x], name: ...)`).
struct GraphBuilder {
    private(set) var graph = Onnx_GraphProto()

    /// Appends `op_type` reading `inputs`; its one output is named `name` (the node too).
    mutating func node(_ opType: String, _ inputs: [String], name: String, _ attributes: [Onnx_AttributeProto] = []) -> String {
        var node = Onnx_NodeProto()
        node.opType = opType
        node.name = name
        node.input = inputs
        node.output = [name]
        node.attribute = attributes
        graph.node.append(node)
        return name
    }

    /// A float32 initializer of `shape` holding `values` (row-major), raw little-endian bytes.
    mutating func constant(_ name: String, shape: [Int], _ values: [Float]) -> String {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = shape.map(Int64.init)
        tensor.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.rawData = littleEndianBytes(values)
        graph.initializer.append(tensor)
        return name
    }

    /// An int64 initializer (shapes for Reshape).
    mutating func constant(_ name: String, int64 values: [Int]) -> String {
        var tensor = Onnx_TensorProto()
        tensor.name = name
        tensor.dims = [Int64(values.count)]
        tensor.dataType = Int32(Onnx_TensorProto.DataType.int64.rawValue)
        tensor.int64Data = values.map(Int64.init)
        graph.initializer.append(tensor)
        return name
    }

    /// Declares a graph input or output: float32 with a symbolic batch dimension first.
    static func value(_ name: String, batch: String, dimensions: [Int], doc: String) -> Onnx_ValueInfoProto {
        var shape = Onnx_TensorShapeProto()
        var first = Onnx_TensorShapeProto.Dimension()
        first.dimParam = batch
        shape.dim = [first]
        for size in dimensions {
            var dimension = Onnx_TensorShapeProto.Dimension()
            dimension.dimValue = Int64(size)
            shape.dim.append(dimension)
        }
        var tensor = Onnx_TypeProto.Tensor()
        tensor.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
        tensor.shape = shape
        var type = Onnx_TypeProto()
        type.tensorType = tensor
        var info = Onnx_ValueInfoProto()
        info.name = name
        info.type = type
        info.docString = doc
        return info
    }

    mutating func addInput(_ info: Onnx_ValueInfoProto) { graph.input.append(info) }
    mutating func addOutput(_ info: Onnx_ValueInfoProto) { graph.output.append(info) }
}

/// Floats as ONNX's raw_data holds them: IEEE 754 binary32, little-endian, row-major.
func littleEndianBytes(_ values: [Float]) -> Data {
    var data = Data(capacity: values.count * 4)
    for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { data.append(contentsOf: $0) } }
    return data
}

/// Attribute constructors, named as ONNX's operator documentation names the attributes.
enum Attribute {
    static func int(_ name: String, _ value: Int) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .int
        attribute.i = Int64(value)
        return attribute
    }

    static func ints(_ name: String, _ values: [Int]) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .ints
        attribute.ints = values.map(Int64.init)
        return attribute
    }

    static func float(_ name: String, _ value: Float) -> Onnx_AttributeProto {
        var attribute = Onnx_AttributeProto()
        attribute.name = name
        attribute.type = .float
        attribute.f = value
        return attribute
    }
}

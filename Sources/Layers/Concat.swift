import Kernels
import Tensor

/// Concatenation along the last axis (channels): inputs agree on every other dimension.
/// Each output row of C₀ + C₁ + … values is the inputs' rows side by side; backward splits dy.
public struct Concat: ExampleWise {
    public static let kind = "concat"
    public static let summary = "join inputs along the channel (last) axis"
    public static let gradientCheckCases = [GradientCheckCase(inputs: [[2, 3, 2], [2, 3, 3]]), GradientCheckCase(inputs: [[4], [2], [3]])]
    public static let inputCount = 2 ... 16

    public init() {}

    public func outputShape(inputs: [Shape]) throws(ShapeError) -> Shape {
        let leading = Array(inputs[0].dimensions.dropLast())
        for shape in inputs.dropFirst() where Array(shape.dimensions.dropLast()) != leading || shape.rank != inputs[0].rank {
            throw ShapeError(
                "concat needs inputs that differ only in channels, got \(inputs[0]) and \(shape)", hint: "make the branches agree in height and width")
        }
        return Shape(leading + [inputs.reduce(0) { $0 + $1.channels }])
    }

    public func forward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        let total = io.outputShape.channels, perExample = io.outputShape.count / total
        let rows = examples.lowerBound * perExample ..< examples.upperBound * perExample
        var offset = 0
        for (input, shape) in zip(io.inputs, io.inputShapes) {
            let c = shape.channels, x = input.baseAddress!, y = io.output.baseAddress! + offset
            for r in rows { (y + r * total).update(from: x + r * c, count: c) }
            offset += c
        }
    }

    public func backward(_ io: LayerIO, examples: Range<Int>, _ context: StepContext) {
        let total = io.outputShape.channels, perExample = io.outputShape.count / total
        let rows = examples.lowerBound * perExample ..< examples.upperBound * perExample
        var offset = 0
        for (dInput, shape) in zip(io.inputGradients, io.inputShapes) {
            let c = shape.channels
            if let dX = dInput?.baseAddress {
                let dY = io.outputGradient!.baseAddress! + offset
                for r in rows { accumulate(dY + r * total, count: c, into: dX + r * c) }
            }
            offset += c
        }
    }
}

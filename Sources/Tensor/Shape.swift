/// The shape of one example's tensor, without the batch dimension: `[height, width, channels]`
/// for images (NHWC once batched), `[features]` after `flatten` or `dense`.
public struct Shape: Hashable, Sendable, CustomStringConvertible, ExpressibleByArrayLiteral {
    public var dimensions: [Int]

    public init(_ dimensions: [Int]) { self.dimensions = dimensions }
    public init(arrayLiteral elements: Int...) { self.dimensions = elements }

    /// Number of elements of one example.
    public var count: Int { dimensions.reduce(1, *) }
    public var rank: Int { dimensions.count }
    public subscript(index: Int) -> Int { dimensions[index] }
    /// The last dimension: channels for images, features for vectors.
    public var channels: Int { dimensions.last ?? 1 }

    /// `32×32×3`, the way the layer table prints it.
    public var description: String { dimensions.map(String.init).joined(separator: "×") }
}

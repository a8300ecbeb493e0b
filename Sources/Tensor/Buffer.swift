/// A view of `count` floats inside an arena the plan owns. Kernels and layers read and write
/// through these; they never allocate.
public typealias FloatBuffer = UnsafeMutableBufferPointer<Float>

extension UnsafeMutableBufferPointer where Element == Float {
    /// The first `count` elements: a short last batch runs on a prefix of each buffer.
    @inlinable public func prefix(count: Int) -> FloatBuffer {
        precondition(count <= self.count, "prefix \(count) exceeds buffer of \(self.count)")
        return FloatBuffer(start: baseAddress, count: count)
    }

    /// Elements `offset ..< offset + count`.
    @inlinable public func slice(_ offset: Int, _ count: Int) -> FloatBuffer {
        precondition(offset >= 0 && offset + count <= self.count, "slice \(offset)+\(count) exceeds buffer of \(self.count)")
        return FloatBuffer(start: baseAddress! + offset, count: count)
    }

    @inlinable public func fill(_ value: Float) {
        guard count > 0 else { return }
        baseAddress!.update(repeating: value, count: count)
    }
}

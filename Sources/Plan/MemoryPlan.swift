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

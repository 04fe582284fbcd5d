/// Noise that depends only on a seed, a name and a tick: the same run gives the same readings no
/// matter how often, or in which order, devices are polled. `Hasher` is seeded per process, so
/// names are hashed with FNV-1a instead.
struct DeterministicNoise: Sendable, Hashable {
    var seed: UInt64

    /// A uniform value in [-1, 1) for this name at this tick.
    func uniform(_ name: String, tick: Int64) -> Double {
        uniform(key: Self.fnv1a(name), tick: tick)
    }

    /// The same for a name hashed once with `fnv1a`, for callers that draw for one name many times.
    func uniform(key: UInt64, tick: Int64) -> Double {
        var generator = SplitMix64(seed: seed ^ key ^ (UInt64(bitPattern: tick) &* 0x9E37_79B9_7F4A_7C15))
        let bits = generator.next()
        return Double(bits >> 11) / Double(1 << 53) * 2 - 1
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        return hash
    }
}

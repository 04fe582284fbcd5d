import Crypto

/// A SHA-256 as the chain compares it: 32 bytes in four words, so judging a line is integer compares, not
/// 64-character strings. A line's hash is taken over its bytes without `\n` (the writer's `sha256Hex`);
/// a `prev` is read from its lowercase hex.
struct ChainHash: Equatable, Sendable {
    private var words: (UInt64, UInt64, UInt64, UInt64)

    /// `prev` of the very first record: 64 zeros.
    static let genesis = ChainHash(words: (0, 0, 0, 0))

    private init(words: (UInt64, UInt64, UInt64, UInt64)) { self.words = words }

    /// The SHA-256 of `bytes`.
    init(sha256Of bytes: UnsafeRawBufferPointer) {
        var hasher = SHA256()
        hasher.update(bufferPointer: bytes)
        let digest = hasher.finalize()
        self.words = digest.withUnsafeBytes {
            ($0.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
             $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
             $0.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
             $0.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
        }
    }

    /// The SHA-256 of `bytes`.
    init(sha256Of bytes: [UInt8]) {
        self = bytes.withUnsafeBytes { ChainHash(sha256Of: $0) }
    }

    /// Reads 64 lowercase hex digits (the only form the writer writes); nil for anything else. A bad digit
    /// is remembered in a flag bit, not branched on, so the loop is straight-line.
    init?(hex: UnsafeRawBufferPointer) {
        guard hex.count == 64, let digits = hex.baseAddress?.assumingMemoryBound(to: UInt8.self) else { return nil }
        var raw: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
        var flags: UInt8 = 0
        withUnsafeMutableBytes(of: &raw) { out in
            for index in 0..<32 {
                let high = Self.nibble(digits[2 * index])
                let low = Self.nibble(digits[2 * index + 1])
                flags |= high | low
                out[index] = high << 4 | (low & 0x0F)
            }
        }
        guard flags & 0x10 == 0 else { return nil }
        self.words = raw
    }

    /// Reads 64 lowercase hex digits; nil for anything else.
    init?(hex: String) {
        var text = hex
        guard let hash = text.withUTF8({ ChainHash(hex: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = hash
    }

    static func == (a: ChainHash, b: ChainHash) -> Bool {
        a.words.0 == b.words.0 && a.words.1 == b.words.1 && a.words.2 == b.words.2 && a.words.3 == b.words.3
    }

    /// The value of one lowercase hex digit, or 0x10 for any other byte.
    @inline(__always)
    private static func nibble(_ byte: UInt8) -> UInt8 {
        let digit = byte &- UInt8(ascii: "0")
        let letter = byte &- UInt8(ascii: "a")
        return digit < 10 ? digit : (letter < 6 ? letter &+ 10 : 0x10)
    }
}

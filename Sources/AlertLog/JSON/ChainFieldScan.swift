/// What the hash chain needs from one line — is it a JSON object, its `seq`, its `prev` — read in one pass
/// over the bytes without building the object, so `alerts verify` on a million records costs little more
/// than hashing them.
///
/// This is not a second definition of a line: `AlertLine.parse` is the one. The scan only answers for lines
/// it can answer for exactly as `parse` would: a valid JSON object whose keys have no escapes, whose `seq`
/// (if any) is one plain integer literal of at most 15 digits, and whose `prev` (if any) is one string without
/// escapes. Anything else — not valid JSON as RFC 8259 reads it, a repeated `seq` or `prev`, a `seq` with a
/// fraction or exponent, a surrogate or NUL escape, a number too long to be sure of, nesting deeper than 64
/// — gives nil, and the caller asks `parse`. So the scan may decline what `parse` accepts, never the reverse;
/// `ChainFieldScanTests` holds it to that against `parse` on every kind of damage.
enum ChainFieldScan {
    struct Fields: Equatable {
        var seq: Int?
        /// Where the bytes of `prev`'s string are (without quotes), as offsets into the line.
        var prev: Range<Int>?
    }

    static func scan(_ line: UnsafeRawBufferPointer) -> Fields? {
        guard let base = line.baseAddress else { return nil }
        var scanner = Scanner(bytes: base.assumingMemoryBound(to: UInt8.self), count: line.count)
        return scanner.object()
    }

    private struct Scanner {
        let bytes: UnsafePointer<UInt8>
        let count: Int
        var index = 0
        var depth = 0

        init(bytes: UnsafePointer<UInt8>, count: Int) {
            self.bytes = bytes
            self.count = count
        }

        /// The top-level object and its chain fields, then nothing but whitespace.
        mutating func object() -> Fields? {
            skipSpace()
            guard peek == UInt8(ascii: "{") else { return nil }
            index += 1
            depth = 1
            var fields = Fields()
            var sawSeq = false
            skipSpace()
            if peek == UInt8(ascii: "}") {
                index += 1
            } else {
                while true {
                    guard let key = plainKey() else { return nil }
                    skipSpace()
                    guard peek == UInt8(ascii: ":") else { return nil }
                    index += 1
                    skipSpace()
                    if isKey(key, "seq") {
                        guard !sawSeq, let seq = plainInteger() else { return nil }
                        sawSeq = true
                        fields.seq = seq
                    } else if isKey(key, "prev") {
                        guard fields.prev == nil, peek == UInt8(ascii: "\""), let span = string(allowEscapes: false)
                        else { return nil }
                        fields.prev = span
                    } else {
                        guard value() else { return nil }
                    }
                    skipSpace()
                    guard let next = peek else { return nil }
                    index += 1
                    if next == UInt8(ascii: "}") { break }
                    guard next == UInt8(ascii: ",") else { return nil }
                    skipSpace()
                }
            }
            skipSpace()
            return index == count ? fields : nil
        }

        private var peek: UInt8? { index < count ? bytes[index] : nil }

        private mutating func skipSpace() {
            while index < count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        private func isKey(_ key: Range<Int>, _ name: StaticString) -> Bool {
            guard key.count == name.utf8CodeUnitCount else { return false }
            let text = name.utf8Start
            for offset in 0..<key.count where bytes[key.lowerBound + offset] != text[offset] { return false }
            return true
        }

        /// A member name without escapes (one with escapes could spell `seq`: leave it to `parse`).
        private mutating func plainKey() -> Range<Int>? {
            guard peek == UInt8(ascii: "\"") else { return nil }
            return string(allowEscapes: false)
        }

        /// Any JSON value, checked and skipped.
        private mutating func value() -> Bool {
            guard let first = peek else { return false }
            switch first {
            case UInt8(ascii: "\""): return string(allowEscapes: true) != nil
            case UInt8(ascii: "{"): return container(close: UInt8(ascii: "}"), members: true)
            case UInt8(ascii: "["): return container(close: UInt8(ascii: "]"), members: false)
            case UInt8(ascii: "t"): return literal("true")
            case UInt8(ascii: "f"): return literal("false")
            case UInt8(ascii: "n"): return literal("null")
            default: return number() != nil
            }
        }

        private mutating func container(close: UInt8, members: Bool) -> Bool {
            depth += 1
            guard depth <= 64 else { return false }
            defer { depth -= 1 }
            index += 1
            skipSpace()
            if peek == close {
                index += 1
                return true
            }
            while true {
                if members {
                    guard peek == UInt8(ascii: "\""), string(allowEscapes: true) != nil else { return false }
                    skipSpace()
                    guard peek == UInt8(ascii: ":") else { return false }
                    index += 1
                    skipSpace()
                }
                guard value() else { return false }
                skipSpace()
                guard let next = peek else { return false }
                index += 1
                if next == close { return true }
                guard next == UInt8(ascii: ",") else { return false }
                skipSpace()
            }
        }

        private mutating func literal(_ word: StaticString) -> Bool {
            let length = word.utf8CodeUnitCount
            guard count - index >= length else { return false }
            let text = word.utf8Start
            for offset in 0..<length where bytes[index + offset] != text[offset] { return false }
            index += length
            return true
        }

        /// A string starting at the opening quote; the span of its contents. Escapes are checked (and, when
        /// `allowEscapes` is false, declined); bytes past ASCII must be well-formed UTF-8.
        private mutating func string(allowEscapes: Bool) -> Range<Int>? {
            index += 1
            let start = index
            while index < count {
                let byte = bytes[index]
                if byte == UInt8(ascii: "\"") {
                    index += 1
                    return start..<(index - 1)
                }
                if byte < 0x20 { return nil }
                if byte == UInt8(ascii: "\\") {
                    guard allowEscapes, escape() else { return nil }
                } else if byte >= 0x80 {
                    guard utf8Sequence() else { return nil }
                } else {
                    index += 1
                }
            }
            return nil
        }

        /// One escape after its backslash. Surrogates and NUL are declined: how `parse` takes them is its own.
        private mutating func escape() -> Bool {
            guard index + 1 < count else { return false }
            switch bytes[index + 1] {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                index += 2
                return true
            case UInt8(ascii: "u"):
                guard index + 6 <= count else { return false }
                var scalar: UInt32 = 0
                for offset in 2..<6 {
                    guard let digit = hexDigit(bytes[index + offset]) else { return false }
                    scalar = scalar << 4 | UInt32(digit)
                }
                guard scalar != 0, !(0xD800...0xDFFF).contains(scalar) else { return false }
                index += 6
                return true
            default:
                return false
            }
        }

        /// One well-formed UTF-8 sequence of two to four bytes (no overlong forms, surrogates or values past
        /// U+10FFFF), as Unicode's table 3-7 has it.
        private mutating func utf8Sequence() -> Bool {
            let lead = bytes[index]
            let length: Int
            var low: UInt8 = 0x80
            var high: UInt8 = 0xBF
            switch lead {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: return false
            }
            guard index + length <= count else { return false }
            let second = bytes[index + 1]
            guard second >= low, second <= high else { return false }
            for offset in 2..<length where bytes[index + offset] & 0xC0 != 0x80 { return false }
            index += length
            return true
        }

        /// A number as RFC 8259 writes it; nil past 18 digits (beyond Int64) or a two-digit exponent, which `parse` may read
        /// its own way. Returns whether it was a plain integer.
        private mutating func number() -> Bool? {
            var digits = 0
            var plain = true
            if peek == UInt8(ascii: "-") { index += 1 }
            guard let first = peek, isDigit(first) else { return nil }
            if first == UInt8(ascii: "0") {
                index += 1
                digits = 1
            } else {
                while let byte = peek, isDigit(byte) {
                    index += 1
                    digits += 1
                }
            }
            if peek == UInt8(ascii: ".") {
                plain = false
                index += 1
                guard let byte = peek, isDigit(byte) else { return nil }
                while let byte = peek, isDigit(byte) {
                    index += 1
                    digits += 1
                }
            }
            if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
                plain = false
                index += 1
                if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
                var exponentDigits = 0
                while let byte = peek, isDigit(byte) {
                    index += 1
                    exponentDigits += 1
                }
                guard (1...2).contains(exponentDigits) else { return nil }
            }
            return digits <= 18 ? plain : nil
        }

        /// `seq`'s value: an integer literal of at most 15 digits (below 9e15, as `parse` requires).
        private mutating func plainInteger() -> Int? {
            let start = index
            guard number() == true else { return nil }
            var position = start
            let negative = bytes[position] == UInt8(ascii: "-")
            if negative { position += 1 }
            guard index - position <= 15 else { return nil }
            var value = 0
            while position < index {
                value = value * 10 + Int(bytes[position] &- UInt8(ascii: "0"))
                position += 1
            }
            return negative ? -value : value
        }

        private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

        private func hexDigit(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
    }
}

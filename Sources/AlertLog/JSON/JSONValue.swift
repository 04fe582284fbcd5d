/// A JSON value as FireWatch writes and reads it in alert-log lines and control-socket messages.
///
/// Objects keep their members in order (`[JSONMember]`) so that a serialised line has a stable key order:
/// the same record always produces the same bytes, which is what the hash chain signs.
public indirect enum JSONValue: Sendable, Equatable, Hashable {
    case string(String)
    case int(Int)
    /// A floating-point number. NaN and infinities have no JSON form and are written as `null`.
    case number(Double)
    case bool(Bool)
    case null
    case array([JSONValue])
    case object([JSONMember])

    /// The string, if this is `.string`.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The integer, if this is `.int` (or a `.number` with an exact integer value).
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .number(let d) where d.rounded() == d && abs(d) < 9.0e15: return Int(d)
        default: return nil
        }
    }

    /// The number as a `Double`, if this is `.int` or `.number`.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .number(let d): return d
        default: return nil
        }
    }

    /// The boolean, if this is `.bool`.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The value of member `key`, if this is an object that has it (the first one, if repeated).
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        return members.first { $0.key == key }?.value
    }
}

/// One `"key": value` member of a JSON object, in the order it is written.
public struct JSONMember: Sendable, Equatable, Hashable {
    public var key: String
    public var value: JSONValue

    public init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

extension JSONValue: ExpressibleByStringInterpolation, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
}

// MARK: - Serialising

/// A small JSON writer: compact output, members in the given order, strings escaped per RFC 8259.
///
/// Hand-written rather than `JSONSerialization` because the alert log needs a fixed member order
/// (`seq` first, `prev` last) and byte-for-byte stable output across Foundation versions.
public enum JSONWriter {
    /// Serialises `value` to compact JSON text (no spaces, no trailing newline).
    public static func serialize(_ value: JSONValue) -> String {
        var out = ""
        write(value, into: &out)
        return out
    }

    /// Serialises an object given as ordered members.
    public static func serialize(members: [JSONMember]) -> String {
        serialize(.object(members))
    }

    static func write(_ value: JSONValue, into out: inout String) {
        switch value {
        case .string(let s): writeString(s, into: &out)
        case .int(let i): out += String(i)
        case .number(let d):
            if !d.isFinite {
                out += "null"
            } else if d.rounded() == d && abs(d) < 1e15 {
                // Whole numbers print without the ".0" Swift adds, e.g. 50 rather than 50.0.
                out += String(Int64(d))
            } else {
                out += "\(d)"  // Swift's shortest round-trip form is valid JSON (e.g. 0.1, 1e-05, 1e+20).
            }
        case .bool(let b): out += b ? "true" : "false"
        case .null: out += "null"
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                write(item, into: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, member) in members.enumerated() {
                if i > 0 { out += "," }
                writeString(member.key, into: &out)
                out += ":"
                write(member.value, into: &out)
            }
            out += "}"
        }
    }

    static func writeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            // U+2028/2029 are valid JSON but break JavaScript consumers and some line splitters.
            case "\u{2028}", "\u{2029}": out += unicodeEscape(scalar.value)
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    out += unicodeEscape(scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}

/// `\uXXXX` with four lowercase hex digits.
private func unicodeEscape(_ value: UInt32) -> String {
    let hex = String(value, radix: 16)
    return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
}

// MARK: - Parsing

extension JSONValue: Decodable {
    /// Decodes any JSON value. Object member order is not preserved (Foundation decodes objects as dictionaries).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() {
            self = .null
        } else if let b = try? c.decode(Bool.self) {
            self = .bool(b)
        } else if let i = try? c.decode(Int.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) {
            self = .number(d)
        } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) {
            self = .array(a)
        } else {
            let o = try c.decode([String: JSONValue].self)
            self = .object(o.sorted { $0.key < $1.key }.map { JSONMember($0.key, $0.value) })
        }
    }
}

import FireSafety
import Foundation

/// One line of the alert log as the reading tools see it: the exact bytes (for `--json` and hashing)
/// plus the members they filter and print on. Fields a reader does not know stay in `bytes`.
public struct AlertLine: Sendable, Hashable {
    /// The line as written, without its `\n`.
    public var bytes: [UInt8]
    public var seq: Int?
    /// Milliseconds since the Unix epoch, from `time`.
    public var time: Int64?
    public var site: String?
    public var zone: String?
    public var severity: Severity?
    /// `severity` as written, kept when it is not one of the five known names.
    public var severityName: String?
    public var event: String?
    public var device: String?
    public var from: String?
    public var to: String?
    public var message: String?
    public var prev: String?

    public init(bytes: [UInt8]) { self.bytes = bytes }
}

/// Something wrong with one line that a reader reports on stderr and then works around.
public struct AlertLineProblem: Sendable, Hashable {
    /// What kind of damage; `unknownField`/`unknownEvent` are reported once per name, the rest per line.
    public enum Kind: Sendable, Hashable {
        case notJSON
        case wrongType(field: String, expected: String)
        case missing(field: String)
        case badValue(field: String, value: String)
        case unknownEvent(String)
        case unknownField(String)
    }

    public var kind: Kind

    /// What the warning says after `file:line:`.
    public var text: String {
        switch kind {
        case .notJSON: return "not a JSON object; skipped"
        case .wrongType(let field, let expected): return "field `\(field)` is not \(expected); ignored"
        case .missing(let field): return "field `\(field)` is missing"
        case .badValue(let field, let value): return "field `\(field)` has an unusable value \(value); ignored"
        case .unknownEvent(let name): return "unknown event `\(name)` (shown as is; newer writer?)"
        case .unknownField(let name): return "unknown field `\(name)` (kept in --json; newer writer?)"
        }
    }

    /// Problems that only need saying once per run, not once per line.
    public var onceOnly: Bool {
        switch kind {
        case .unknownEvent, .unknownField: return true
        default: return false
        }
    }
}

extension AlertLine {
    /// Events the daemon writes (every `AlertEvent`, plus the writer's own `log.truncated` for a torn tail it cut
    /// off on open); anything else is shown but warned about once.
    public static let knownEvents: Set<String> = Set(AlertEvent.allCases.map(\.rawValue)).union(["log.truncated"])

    /// Members the contract names or its examples use; others are kept but warned about once.
    public static let knownFields: Set<String> = [
        "seq", "time", "site", "zone", "severity", "event", "from", "to", "device", "point", "value",
        "uid", "procedure", "step", "message", "prev", "signal", "level", "command", "attempt", "error",
        "channel", "reason", "until", "for", "version", "detail", "duration", "run", "exit", "bytes", "fragment",
        // What the daemon writes beyond the contract's example (AlertRecord.jsonMembers, daemon.started).
        "step_text", "outcome", "records_read", "step_seconds", "state", "user",
    ]

    /// Parses one line. Returns nil (with `.notJSON`) when the bytes are not a JSON object; otherwise the
    /// line with every usable member, and a problem for each member that is missing, mistyped or unknown.
    public static func parse(_ raw: UnsafeRawBufferPointer) -> (AlertLine?, [AlertLineProblem]) {
        let data = Data(raw)
        guard let object = try? JSONSerialization.jsonObject(with: data, options: []),
            let members = object as? [String: Any]
        else { return (nil, [AlertLineProblem(kind: .notJSON)]) }
        var line = AlertLine(bytes: Array(raw))
        var problems: [AlertLineProblem] = []

        func string(_ key: String, required: Bool = false) -> String? {
            guard let value = members[key] else {
                if required { problems.append(AlertLineProblem(kind: .missing(field: key))) }
                return nil
            }
            if let text = value as? String { return text }
            if value is NSNull, !required { return nil }
            problems.append(AlertLineProblem(kind: .wrongType(field: key, expected: "a string")))
            return nil
        }

        if let value = members["seq"] {
            if let number = value as? NSNumber, !isBool(number), number.doubleValue.rounded() == number.doubleValue,
                abs(number.doubleValue) < 9e15
            {
                line.seq = number.intValue
            } else {
                problems.append(AlertLineProblem(kind: .wrongType(field: "seq", expected: "an integer")))
            }
        } else {
            problems.append(AlertLineProblem(kind: .missing(field: "seq")))
        }
        if let text = string("time", required: true) {
            if let millis = AlertTime.parse(text) {
                line.time = millis
            } else {
                problems.append(AlertLineProblem(kind: .badValue(field: "time", value: quoted(text))))
            }
        }
        line.site = string("site")
        line.zone = string("zone")
        if let text = string("severity", required: true) {
            line.severityName = text
            line.severity = Severity(name: text)
            if line.severity == nil {
                problems.append(AlertLineProblem(kind: .badValue(field: "severity", value: quoted(text))))
            }
        }
        if let name = string("event", required: true) {
            line.event = name
            if !knownEvents.contains(name) { problems.append(AlertLineProblem(kind: .unknownEvent(name))) }
        }
        line.device = string("device")
        line.from = string("from")
        line.to = string("to")
        line.message = string("message")
        line.prev = string("prev")
        for key in members.keys where !knownFields.contains(key) {
            problems.append(AlertLineProblem(kind: .unknownField(key)))
        }
        return (line, problems)
    }

    /// JSONSerialization hands booleans back as NSNumber too; `true` must not pass for `seq: 1`.
    private static func isBool(_ number: NSNumber) -> Bool {
        // Integers come back as "i"/"q"/"l", booleans as "c" (char) on both Darwin and Linux Foundation.
        number.objCType.pointee == CChar(UInt8(ascii: "c"))
    }

    private static func quoted(_ text: String) -> String {
        let short = text.count > 40 ? String(text.prefix(40)) + "…" : text
        return "\"\(short)\""
    }
}

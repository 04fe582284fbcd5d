import FireSafety
import Foundation

/// One line of the alert log, the one line type of every reader: the exact bytes (for `--json` and hashing)
/// plus the members the tools filter and print on, and where it was read. Fields a reader does not know stay
/// in `bytes`; `fields` decodes them all when recovery or a test needs them.
public struct AlertLine: Sendable, Hashable {
    /// The line as written, without its `\n`.
    public var bytes: [UInt8]
    /// The file it came from, when it was read from one.
    public var file: String?
    /// 1-based line number within `file` (0 when not read from a file).
    public var lineNumber: Int = 0
    /// False for a last line without `\n` (a write cut short, or a writer mid-write).
    public var isTerminated = true
    /// True when `bytes` are a JSON object (even one with damaged members).
    public var isObject = false
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
    /// Events the daemon writes (every `AlertEvent`, the writer's own `log.rotated` and `log.truncated` included);
    /// anything else is shown but warned about once.
    public static let knownEvents: Set<String> = Set(AlertEvent.allCases.map(\.rawValue))

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
        line.isObject = true
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

    /// Every line of `file`, in order, parsed (a line that is not a JSON object keeps only its bytes).
    public static func lines(ofFile path: String) throws -> [AlertLine] {
        let file: AlertLogFile
        do { file = try AlertLogFile(path: path) } catch {
            throw AlertLogError(
                code: .read, path: path, errno: error.errno, message: "cannot read \(error)",
                hint: "check that the file exists and is readable (pass --log to name another)")
        }
        var lines: [AlertLine] = []
        var number = 0
        file.forEachLine(from: 0, to: file.size()) { bytes, _, terminated in
            number += 1
            var line = parse(bytes).0 ?? AlertLine(bytes: Array(bytes))
            line.file = path
            line.lineNumber = number
            line.isTerminated = terminated
            lines.append(line)
            return true
        }
        return lines
    }

    /// Lowercase hex SHA-256 of the line's bytes: the `prev` the next line must carry.
    public var hash: String { AlertLogWriter.sha256Hex(bytes) }

    /// The line as text (invalid UTF-8 shown as U+FFFD; `hash` is over the original bytes).
    public var text: String { String(decoding: bytes, as: UTF8.self) }

    /// `file:line`, for messages.
    public var location: String { "\(file ?? "-"):\(lineNumber)" }

    /// Every member, decoded (order is not kept; a repeated key keeps its first value), for
    /// `AlertRecord(jsonFields:)` and checkpoint state; nil when the line is not a JSON object.
    public var fields: [String: JSONValue]? {
        guard isObject, let value = try? JSONDecoder().decode(JSONValue.self, from: Data(bytes)),
            case .object(let members) = value
        else { return nil }
        return Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
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

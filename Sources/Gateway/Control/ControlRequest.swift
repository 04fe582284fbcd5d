import AlertLog
import Foundation
import SiteConfig

/// One operator request on the control socket: `{"cmd":"status"}`, `{"cmd":"ack","zone":"battery-room-a"}`,
/// `{"cmd":"inhibit","zone":"…","for":"2h","reason":"…"}`, `{"cmd":"test","zone":"…","for":"1h","reason":"…"}`,
/// `{"cmd":"test_end","zone":"…"}`, … (one JSON object per line).
///
/// Members a request does not use are ignored, so newer clients can add fields.
public enum ControlRequest: Sendable, Equatable, Hashable {
    case status
    /// Acknowledge a zone's alarm (silences repeats; the latch stays).
    case ack(zone: String)
    /// Clear a latched zone; the engine refuses while the cause is present.
    case reset(zone: String)
    /// Stop an abortable step (the pre-discharge delay) of a zone's running procedure.
    case abort(zone: String)
    /// Take an accepted abort back: the countdown restarts from its full duration.
    case resume(zone: String)
    /// Suppress a zone's actuation for `duration`, with a reason recorded in the alert log.
    case inhibit(zone: String, duration: Duration, reason: String)
    /// End an inhibit early.
    case enable(zone: String)
    /// Start (or extend) a walk test of a zone for `duration`: detection and notifications go on, marked test;
    /// nothing is written and no step runs in the zone until it ends.
    case test(zone: String, duration: Duration, reason: String)
    /// End a zone's walk test before its deadline.
    case endTest(zone: String)
    /// Send a test message on one channel (or every one) and answer, per channel, delivered or why not.
    case notifyTest(channel: String?)

    /// The longest inhibit accepted: an inhibit outliving a shift is a forgotten one. Re-inhibit to extend.
    public static let maxInhibit: Duration = .seconds(7 * 24 * 3600)
    /// The longest walk test accepted: a shift. A zone left in test cannot act; re-issue to extend.
    public static let maxTest: Duration = .seconds(8 * 3600)
    /// The longest request line accepted (bytes, without `\n`).
    public static let maxLineBytes = 65_536
    /// Longest zone name accepted.
    static let maxZoneLength = 200

    /// The `cmd` word.
    public var command: String {
        switch self {
        case .status: "status"
        case .ack: "ack"
        case .reset: "reset"
        case .abort: "abort"
        case .resume: "resume"
        case .inhibit: "inhibit"
        case .enable: "enable"
        case .test: "test"
        case .endTest: "test_end"
        case .notifyTest: "notify_test"
        }
    }

    /// The zone the request is about, if any.
    public var zone: String? {
        switch self {
        case .status, .notifyTest: nil
        case .ack(let z), .reset(let z), .abort(let z), .resume(let z), .enable(let z), .inhibit(let z, _, _),
            .test(let z, _, _), .endTest(let z):
            z
        }
    }

    /// The request as a JSON object, in the wire member order.
    public var json: JSONValue {
        var members = [JSONMember("cmd", .string(command))]
        if let zone { members.append(JSONMember("zone", .string(zone))) }
        switch self {
        case .inhibit(_, let duration, let reason), .test(_, let duration, let reason):
            members.append(JSONMember("for", .string(DurationText.format(duration))))
            members.append(JSONMember("reason", .string(reason)))
        default:
            break
        }
        if case .notifyTest(let channel?) = self { members.append(JSONMember("channel", .string(channel))) }
        return .object(members)
    }

    /// The request as one line of JSON, without `\n`.
    public var jsonLine: String { JSONWriter.serialize(json) }

    /// Parses and validates one request line (without `\n`).
    public static func parse(line: some Collection<UInt8>) throws(ControlRequestError) -> ControlRequest {
        guard line.count <= maxLineBytes else {
            throw ControlRequestError(.tooLong, "request is \(line.count) bytes; at most \(maxLineBytes) are accepted")
        }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(line)) else {
            throw ControlRequestError(
                .notJSON,
                "request is not valid JSON; send one JSON object per line, "
                    + #"e.g. {"cmd":"status"}"#)
        }
        guard case .object = value else {
            throw ControlRequestError(.notJSON, #"request must be a JSON object, e.g. {"cmd":"status"}"#)
        }
        guard let cmdValue = value["cmd"] else {
            throw ControlRequestError(.missingField, #"field "cmd" is missing; one of: \#(commands)"#)
        }
        guard let cmd = cmdValue.stringValue else {
            throw ControlRequestError(.badField, #"field "cmd" must be a string; one of: \#(commands)"#)
        }
        switch cmd {
        case "status": return .status
        case "ack": return .ack(zone: try zone(in: value, cmd))
        case "reset": return .reset(zone: try zone(in: value, cmd))
        case "abort": return .abort(zone: try zone(in: value, cmd))
        case "resume": return .resume(zone: try zone(in: value, cmd))
        case "enable": return .enable(zone: try zone(in: value, cmd))
        case "notify_test":
            guard let channel = value["channel"] else { return .notifyTest(channel: nil) }
            guard let name = channel.stringValue, !name.isEmpty, name.count <= maxZoneLength else {
                throw ControlRequestError(.badField, #"field "channel" must be a channel name from the site's notify:"#)
            }
            return .notifyTest(channel: name)
        case "inhibit":
            let zone = try zone(in: value, cmd)
            let duration = try duration(in: value, what: "inhibit", "2h", max: maxInhibit, "7d", extend: "re-inhibit")
            return .inhibit(zone: zone, duration: duration, reason: try reason(in: value, "why the zone is inhibited"))
        case "test":
            let zone = try zone(in: value, cmd)
            let duration = try duration(in: value, what: "test", "1h", max: maxTest, "8h", extend: "test again")
            return .test(zone: zone, duration: duration, reason: try reason(in: value, "what the walk test is for"))
        case "test_end": return .endTest(zone: try zone(in: value, cmd))
        default:
            throw ControlRequestError(.unknownCommand, #"unknown cmd "\#(cmd)"; one of: \#(commands)"#)
        }
    }

    private static let commands = "status, ack, reset, abort, resume, inhibit, enable, test, test_end, notify_test"

    /// The `for` member: a duration more than 0 and at most `max`.
    private static func duration(
        in value: JSONValue, what: String, _ example: String, max: Duration, _ maxText: String, extend: String
    ) throws(ControlRequestError) -> Duration {
        guard let text = value["for"] else {
            throw ControlRequestError(.missingField, #"field "for" is missing: how long to \#(what), e.g. "\#(example)""#)
        }
        guard let forText = text.stringValue, let duration = DurationText.parse(forText) else {
            throw ControlRequestError(
                .badField,
                #"field "for" must be a duration like "30m", "2h" or "1d", not \#(JSONWriter.serialize(text))"#)
        }
        guard duration > .zero, duration <= max else {
            throw ControlRequestError(
                .badField, #"field "for" must be more than 0 and at most \#(maxText) (\#(extend) to extend)"#)
        }
        return duration
    }

    /// The `reason` member, trimmed and not empty.
    private static func reason(in value: JSONValue, _ what: String) throws(ControlRequestError) -> String {
        guard let reason = value["reason"]?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines),
            !reason.isEmpty
        else {
            throw ControlRequestError(.missingField, #"field "reason" is missing or empty: say \#(what)"#)
        }
        return reason
    }

    private static func zone(in value: JSONValue, _ cmd: String) throws(ControlRequestError) -> String {
        guard let field = value["zone"] else {
            throw ControlRequestError(.missingField, #"field "zone" is missing: "\#(cmd)" needs the zone's name"#)
        }
        guard let zone = field.stringValue, !zone.isEmpty, zone.count <= maxZoneLength,
            !zone.unicodeScalars.contains(where: { $0.properties.generalCategory == .control })
        else {
            throw ControlRequestError(.badField, #"field "zone" must be a zone name (a non-empty string)"#)
        }
        return zone
    }
}

/// A request line that could not be accepted, with a message the operator can act on.
public struct ControlRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The kind of problem; its `rawValue` is the `error` member of the response.
    public enum Code: String, Sendable {
        case tooLong = "too_long"
        case notJSON = "not_json"
        case missingField = "missing_field"
        case badField = "bad_field"
        case unknownCommand = "unknown_command"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}

import AlertLog
import Foundation

/// The daemon's answer to one control request: one JSON object on one line.
///
/// `{"ok":true,"message":"zone battery-room-a acknowledged"}`, or with `data` for `status`;
/// `{"ok":false,"error":"refused","message":"reset refused: off-gas still detected in battery-room-a"}`.
public struct ControlResponse: Sendable, Equatable {
    /// True when the request was carried out.
    public var ok: Bool
    /// A machine-readable reason when `ok` is false (`not_json`, `unknown_command`, `refused`, `unknown_zone`, …).
    public var error: String?
    /// One line for the operator.
    public var message: String
    /// Structured payload, e.g. the daemon's status.
    public var data: JSONValue?

    public init(ok: Bool, error: String? = nil, message: String, data: JSONValue? = nil) {
        self.ok = ok
        self.error = error
        self.message = message
        self.data = data
    }

    /// A request carried out.
    public static func success(_ message: String, data: JSONValue? = nil) -> ControlResponse {
        ControlResponse(ok: true, message: message, data: data)
    }

    /// A request not carried out, with a machine-readable `error` code.
    public static func failure(_ error: String, _ message: String) -> ControlResponse {
        ControlResponse(ok: false, error: error, message: message)
    }

    /// The response as one JSON line, without `\n`.
    public var jsonLine: String {
        var members = [JSONMember("ok", .bool(ok))]
        if let error { members.append(JSONMember("error", .string(error))) }
        members.append(JSONMember("message", .string(message)))
        if let data { members.append(JSONMember("data", data)) }
        return JSONWriter.serialize(members: members)
    }

    /// Parses a response line; nil when it is not one.
    public static func parse(line: some Collection<UInt8>) -> ControlResponse? {
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(line)),
            let ok = value["ok"]?.boolValue
        else { return nil }
        return ControlResponse(
            ok: ok, error: value["error"]?.stringValue, message: value["message"]?.stringValue ?? "",
            data: value["data"])
    }
}

/// Who is on the other end of a control connection, from the kernel (`SO_PEERCRED`), for `operator.*` records.
public struct PeerCredentials: Sendable, Equatable, Hashable {
    public var pid: Int32
    public var uid: UInt32
    public var gid: UInt32

    public init(pid: Int32, uid: UInt32, gid: UInt32) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}

import AsyncHTTPClient
import Foundation
import NIOCore
import Synchronization

/// What went wrong talking to etcd.
public struct EtcdError: Error, CustomStringConvertible, Sendable {
    public enum Kind: Sendable, Equatable {
        /// No member answered (refused, timed out, reset): etcd may be down or this gateway cut off from it.
        case unreachable
        /// A member answered with an error (`code` is the gRPC status: 5 not found, 14 unavailable, ...).
        case rejected(code: Int)
        /// A member answered something that is not the v3 API's JSON.
        case malformed
    }

    public var kind: Kind
    public var description: String

    /// A member answered but cannot serve now (no leader, quorum lost): as good as unreachable for a lease.
    public var isUnavailable: Bool {
        switch kind {
        case .unreachable: return true
        case .rejected(let code): return code == 14 || code == 4
        case .malformed: return false
        }
    }
}

/// One key as etcd holds it.
public struct EtcdKeyValue: Sendable, Hashable {
    public var key: String
    public var value: String
    /// The revision that created the key (unchanged by later puts): for the owner key, the owner's epoch.
    public var createRevision: Int64
    public var modRevision: Int64
    /// The lease the key is attached to, 0 for none.
    public var lease: Int64
}

/// A lease as granted.
public struct EtcdLease: Sendable, Hashable {
    public var id: Int64
    /// Seconds, as etcd granted them.
    public var ttl: Int64
}

/// etcd's v3 API through its JSON gateway (`POST /v3/...`, keys and values base64, int64 as strings), over
/// AsyncHTTPClient. Endpoints are tried in order; a member that does not answer is skipped for the next one, so
/// a cluster with a member down still serves.
///
/// Only what the standby pair needs: leases (grant, keep alive, revoke), create-if-absent (the election), put,
/// a put or delete guarded by the owner key (shared progress), get one key or a prefix, delete.
public final class EtcdClient: Sendable {
    public let endpoints: [String]
    /// Bound on each request to one member.
    public let requestTimeout: Duration
    /// Made on the first request, so a client that never spoke (a daemon that failed to start) needs no shutdown.
    private let http = Mutex<HTTPClient?>(nil)
    private let closed = Mutex(false)

    /// `endpoints` are base URLs (`http://127.0.0.1:2379`); a client that made requests is shut down with
    /// `shutdown()`.
    public init(endpoints: [String], requestTimeout: Duration = .seconds(1)) {
        self.endpoints = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.requestTimeout = requestTimeout
    }

    private func connection() throws(EtcdError) -> HTTPClient {
        try http.withLock { http throws(EtcdError) -> HTTPClient in
            if let http { return http }
            if closed.withLock({ $0 }) { throw EtcdError(kind: .unreachable, description: "the etcd client is shut down") }
            var configuration = HTTPClient.Configuration()
            configuration.timeout = .init(connect: .nanoseconds(Self.nanoseconds(requestTimeout)))
            let made = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
            http = made
            return made
        }
    }

    public func shutdown() async {
        closed.withLock { $0 = true }
        let client = http.withLock { http -> HTTPClient? in
            defer { http = nil }
            return http
        }
        try? await client?.shutdown()
    }

    // MARK: - Leases

    public func grant(ttl: Int64) async throws(EtcdError) -> EtcdLease {
        let answer = try await call("lease/grant", ["TTL": String(ttl)])
        guard let id = Self.int64(answer["ID"]), let granted = Self.int64(answer["TTL"]) else {
            throw EtcdError(kind: .malformed, description: "lease/grant answered without an ID and a TTL")
        }
        return EtcdLease(id: id, ttl: granted)
    }

    /// Renews `lease`; returns the seconds it now has, 0 when etcd no longer has it (expired or revoked).
    public func keepAlive(_ lease: Int64) async throws(EtcdError) -> Int64 {
        let answer = try await call("lease/keepalive", ["ID": String(lease)])
        let result = answer["result"] as? [String: Any] ?? [:]
        return Self.int64(result["TTL"]) ?? 0
    }

    public func revoke(_ lease: Int64) async throws(EtcdError) {
        do {
            _ = try await call("lease/revoke", ["ID": String(lease)])
        } catch where error.kind == .rejected(code: 5) {
            // Already gone.
        }
    }

    // MARK: - Keys

    public enum Creation: Sendable, Hashable {
        /// The key was created at this revision.
        case created(revision: Int64)
        /// The key was there already.
        case held(EtcdKeyValue)
    }

    /// Creates `key` with `value` on `lease` unless it exists (one transaction): how an election is won.
    public func createIfAbsent(_ key: String, value: String, lease: Int64) async throws(EtcdError) -> Creation {
        let key64 = Self.base64(key)
        let answer = try await call(
            "kv/txn",
            [
                "compare": [["key": key64, "target": "CREATE", "create_revision": "0"]],
                "success": [["request_put": ["key": key64, "value": Self.base64(value), "lease": String(lease)]]],
                "failure": [["request_range": ["key": key64]]],
            ])
        let revision = Self.int64((answer["header"] as? [String: Any])?["revision"]) ?? 0
        if answer["succeeded"] as? Bool == true { return .created(revision: revision) }
        let responses = answer["responses"] as? [[String: Any]] ?? []
        let range = responses.first?["response_range"] as? [String: Any] ?? [:]
        if let held = (range["kvs"] as? [[String: Any]])?.first.flatMap(Self.keyValue) { return .held(held) }
        // Deleted between the compare and the range cannot happen in one transaction; say what came back.
        throw EtcdError(kind: .malformed, description: "kv/txn on \(key) neither created it nor found it")
    }

    /// Puts `value` at `key` (on `lease` when given); returns the revision of the put.
    @discardableResult
    public func put(_ key: String, value: String, lease: Int64? = nil) async throws(EtcdError) -> Int64 {
        var body: [String: Any] = ["key": Self.base64(key), "value": Self.base64(value)]
        if let lease { body["lease"] = String(lease) }
        let answer = try await call("kv/put", body)
        return Self.int64((answer["header"] as? [String: Any])?["revision"]) ?? 0
    }

    /// Puts `value` at `key`, or deletes `key` when `value` is nil, only while `guardKey` still has the create
    /// revision `createRevision` (one transaction): how an owner writes under its epoch and a former owner cannot.
    /// Returns whether it was done.
    public func change(
        _ key: String, to value: String?, whileKey guardKey: String, hasCreateRevision createRevision: Int64
    ) async throws(EtcdError) -> Bool {
        let key64 = Self.base64(key)
        let operation: [String: Any] =
            value.map { ["request_put": ["key": key64, "value": Self.base64($0)]] }
            ?? ["request_delete_range": ["key": key64]]
        let answer = try await call(
            "kv/txn",
            [
                "compare": [
                    ["key": Self.base64(guardKey), "target": "CREATE", "create_revision": String(createRevision)]
                ],
                "success": [operation],
            ])
        return answer["succeeded"] as? Bool == true
    }

    public func get(_ key: String) async throws(EtcdError) -> EtcdKeyValue? {
        try await range(["key": Self.base64(key)]).first
    }

    /// Every key that starts with `prefix`, in key order.
    public func get(prefix: String) async throws(EtcdError) -> [EtcdKeyValue] {
        try await range(["key": Self.base64(prefix), "range_end": Self.base64(Self.prefixEnd(prefix))])
    }

    public func delete(_ key: String) async throws(EtcdError) {
        _ = try await call("kv/deleterange", ["key": Self.base64(key)])
    }

    private func range(_ body: [String: Any]) async throws(EtcdError) -> [EtcdKeyValue] {
        let answer = try await call("kv/range", body)
        return (answer["kvs"] as? [[String: Any]] ?? []).compactMap(Self.keyValue)
    }

    // MARK: - Wire

    /// POSTs `body` to `/v3/<path>` on the first member that answers.
    private func call(_ path: String, _ body: [String: Any]) async throws(EtcdError) -> [String: Any] {
        let bytes: Data
        do {
            bytes = try JSONSerialization.data(withJSONObject: body)
        } catch {
            throw EtcdError(kind: .malformed, description: "cannot encode a \(path) request: \(error)")
        }
        let http = try connection()
        var problems: [String] = []
        for endpoint in endpoints {
            var request = HTTPClientRequest(url: "\(endpoint)/v3/\(path)")
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: bytes))
            let status: UInt
            let data: ByteBuffer
            do {
                let response = try await http.execute(request, timeout: .nanoseconds(Self.nanoseconds(requestTimeout)))
                status = response.status.code
                data = try await response.body.collect(upTo: 4 << 20)
            } catch {
                problems.append("\(endpoint): \(Self.describe(error))")
                continue
            }
            let object = (try? JSONSerialization.jsonObject(with: Data(buffer: data))) as? [String: Any]
            guard let object else {
                throw EtcdError(
                    kind: .malformed, description: "\(endpoint)/v3/\(path) answered HTTP \(status), not JSON")
            }
            if let code = Self.int64(object["code"]), code != 0 || status >= 400 {
                let message = object["message"] as? String ?? object["error"] as? String ?? "HTTP \(status)"
                let failure = EtcdError(kind: .rejected(code: Int(code)), description: "\(endpoint): \(message)")
                // A member without a leader cannot serve; another member may.
                if failure.isUnavailable {
                    problems.append(failure.description)
                    continue
                }
                throw failure
            }
            if status >= 400 {
                throw EtcdError(kind: .rejected(code: 0), description: "\(endpoint)/v3/\(path) answered HTTP \(status)")
            }
            return object
        }
        throw EtcdError(kind: .unreachable, description: "no etcd member answered: " + problems.joined(separator: "; "))
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .connectTimeout {
            return "no answer in time"
        }
        let text = "\(error)"
        return text.contains("Connection refused") ? "connection refused" : text
    }

    static func nanoseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000
    }

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    /// The `range_end` that makes a range "every key starting with `prefix`": the prefix with its last byte + 1.
    static func prefixEnd(_ prefix: String) -> String {
        var bytes = Array(prefix.utf8)
        while let last = bytes.last {
            if last < 0xFF {
                bytes[bytes.count - 1] = last + 1
                return String(decoding: bytes, as: UTF8.self)
            }
            bytes.removeLast()
        }
        return "\0"
    }

    /// int64 fields come as strings (proto3 JSON), numbers when small; absent means 0 to proto3.
    static func int64(_ value: Any?) -> Int64? {
        if let text = value as? String { return Int64(text) }
        if let number = value as? NSNumber { return number.int64Value }
        return nil
    }

    static func keyValue(_ object: [String: Any]) -> EtcdKeyValue? {
        guard let key = (object["key"] as? String).flatMap({ Data(base64Encoded: $0) }) else { return nil }
        let value = (object["value"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data()
        return EtcdKeyValue(
            key: String(decoding: key, as: UTF8.self), value: String(decoding: value, as: UTF8.self),
            createRevision: int64(object["create_revision"]) ?? 0, modRevision: int64(object["mod_revision"]) ?? 0,
            lease: int64(object["lease"]) ?? 0)
    }
}

import Foundation
import Logging
import Synchronization
import Testing

@testable import AlertLog
@testable import Gateway
import FireWatchTesting
import SiteConfig

/// A raw client connection for sending arbitrary bytes, with a bounded receive timeout.
// @unchecked: each test uses its connection from one place at a time (one read in flight), never concurrently.
private final class RawConnection: @unchecked Sendable {
    let fd: Int32
    private var pending: [UInt8] = []

    init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        // Generous: the whole test process shares two cooperative threads with suites that hold them for seconds.
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let address = try #require(UnixSocketAddress(path: path))
        let rc = address.withSockaddr { connect(fd, $0, $1) }
        try #require(rc == 0)
    }

    func send(_ text: String) { sendBytes(Array(text.utf8)) }

    func sendBytes(_ bytes: [UInt8]) {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            offset += n
        }
    }

    /// The next line, or nil on end of stream / timeout.
    func readLine() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            if let nl = pending.firstIndex(of: 0x0A) {
                let line = String(decoding: pending[..<nl], as: UTF8.self)
                pending.removeSubrange(...nl)
                return line
            }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { return nil }
            pending += buffer[0..<n]
        }
    }

    /// The next response, read on a thread of its own: a blocking recv must not hold a cooperative thread
    /// the server's tasks need.
    func response() async -> ControlResponse? {
        await nextLine().flatMap { ControlResponse.parse(line: Array($0.utf8)) }
    }

    func nextLine() async -> String? {
        await onOwnThread(name: "test-read") { self.readLine() }
    }

    deinit { close(fd) }
}

/// Records what the handler saw.
private final class Seen: Sendable {
    let requests = Mutex<[(ControlRequest, PeerCredentials)]>([])
    var count: Int { requests.withLock { $0.count } }
}

@Suite("Control socket")
struct ControlSocketTests {
    /// How long a client waits for the server: bounded, but long enough for a loaded 2-core CI machine.
    static let patience: Duration = .seconds(60)

    let logger = Logger(label: "test.control")

    /// Runs a server on a fresh socket for the duration of `body`.
    private func withServer(
        socketName: String = "control.sock",
        handler: ControlServer.Handler? = nil,
        _ body: (String, Seen) async throws -> Void
    ) async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("run/" + socketName)
        let seen = Seen()
        let server = try ControlServer(path: path, logger: logger) { request, peer in
            seen.requests.withLock { $0.append((request, peer)) }
            if let handler { return await handler(request, peer) }
            return .success("did \(request.command)", data: .object([JSONMember("uid", .int(Int(peer.uid)))]))
        }
        let task = Task { try await server.run() }
        do {
            try await body(path, seen)
        } catch {
            task.cancel()
            throw error
        }
        task.cancel()
        try await task.value
        #expect(!FileManager.default.fileExists(atPath: path))
    }

    @Test("status round trip; the socket is 0660 in a created directory; the peer is this process")
    func roundTrip() async throws {
        try await withServer { path, seen in
            var st = stat()
            #expect(stat(path, &st) == 0)
            #expect(st.st_mode & 0o777 == 0o660)
            #expect((st.st_mode & S_IFMT) == S_IFSOCK)

            let response = try await ControlClient.send(.status, socketPath: path, timeout: Self.patience)
            #expect(response.ok)
            #expect(response.message == "did status")
            #expect(response.data?["uid"]?.intValue == Int(getuid()))
            let (request, peer) = try #require(seen.requests.withLock { $0.first })
            #expect(request == .status)
            #expect(peer.uid == getuid())
            #expect(peer.gid == getgid())
            #expect(peer.pid == getpid())
        }
    }

    @Test("every command reaches the handler as parsed")
    func allCommands() async throws {
        try await withServer { path, seen in
            let requests: [ControlRequest] = [
                .status, .ack(zone: "battery-room-a"), .reset(zone: "battery-room-a"), .abort(zone: "battery-room-a"),
                .inhibit(zone: "battery-room-a", duration: .seconds(7200), reason: "cell replacement, ticket 4411"),
                .enable(zone: "battery-room-a"),
            ]
            for request in requests {
                let response = try await ControlClient.send(request, socketPath: path, timeout: Self.patience)
                #expect(response.ok)
            }
            #expect(seen.requests.withLock { $0.map(\.0) } == requests)
        }
    }

    @Test("bad requests get a clear error and the connection stays usable")
    func validation() async throws {
        try await withServer { path, seen in
            let conn = try RawConnection(path: path)
            let cases: [(String, String, String)] = [
                ("hello", "not_json", "not valid JSON"),
                ("[1,2]", "not_json", "JSON object"),
                (#"{"zone":"a"}"#, "missing_field", "\"cmd\""),
                (#"{"cmd":42}"#, "bad_field", "\"cmd\""),
                (#"{"cmd":"explode","zone":"a"}"#, "unknown_command", "explode"),
                (#"{"cmd":"ack"}"#, "missing_field", "\"zone\""),
                (#"{"cmd":"reset","zone":""}"#, "bad_field", "\"zone\""),
                (#"{"cmd":"inhibit","zone":"a","reason":"x"}"#, "missing_field", "\"for\""),
                (#"{"cmd":"inhibit","zone":"a","for":"soon","reason":"x"}"#, "bad_field", "\"soon\""),
                (#"{"cmd":"inhibit","zone":"a","for":"0s","reason":"x"}"#, "bad_field", "more than 0"),
                (#"{"cmd":"inhibit","zone":"a","for":"30d","reason":"x"}"#, "bad_field", "at most 7d"),
                (#"{"cmd":"inhibit","zone":"a","for":"2h"}"#, "missing_field", "\"reason\""),
                (#"{"cmd":"inhibit","zone":"a","for":"2h","reason":"  "}"#, "missing_field", "\"reason\""),
            ]
            for (line, code, fragment) in cases {
                conn.send(line + "\n")
                let response = try #require(await conn.response(), "no answer to \(line)")
                #expect(!response.ok)
                #expect(response.error == code, "for \(line)")
                #expect(response.message.contains(fragment), "for \(line): \(response.message)")
            }
            #expect(seen.count == 0)
            conn.send(#"{"cmd":"status","extra":"ignored"}"# + "\r\n")
            #expect(await conn.response()?.ok == true)
        }
    }

    @Test("several requests in one write are answered in order")
    func pipelined() async throws {
        try await withServer { path, _ in
            let conn = try RawConnection(path: path)
            conn.send(#"{"cmd":"ack","zone":"z1"}"# + "\n" + "nonsense\n" + #"{"cmd":"enable","zone":"z2"}"# + "\n")
            #expect(await conn.response()?.message == "did ack")
            #expect(await conn.response()?.error == "not_json")
            #expect(await conn.response()?.message == "did enable")
        }
    }

    @Test("a client that half-closes after its request (echo … | socat) still gets every answer")
    func halfClose() async throws {
        // Held until the client has half-closed, so the EOF arrives while the request is with the handler.
        let gate = ThreadCompletion()
        try await withServer(handler: { request, _ in
            await gate.wait()
            return .success("did \(request.command)")
        }) { path, _ in
            let conn = try RawConnection(path: path)
            conn.send(#"{"cmd":"ack","zone":"a"}"# + "\n" + #"{"cmd":"status"}"#)  // the last one without \n
            #expect(shutdown(conn.fd, Int32(SHUT_WR)) == 0)
            gate.signal()
            #expect(await conn.response()?.message == "did ack")
            #expect(await conn.response()?.message == "did status")
            #expect(await conn.nextLine() == nil)  // then the server closes
        }
    }

    @Test("a line over 64 KiB is refused and that connection closed; others carry on")
    func overlongLine() async throws {
        try await withServer { path, _ in
            let other = try RawConnection(path: path)
            let conn = try RawConnection(path: path)
            conn.sendBytes([UInt8](repeating: UInt8(ascii: "x"), count: 70_000))
            let response = try #require(await conn.response())
            #expect(response.error == "too_long")
            #expect(await conn.nextLine() == nil)  // closed
            other.send(#"{"cmd":"status"}"# + "\n")
            #expect(await other.response()?.ok == true)
        }
    }

    @Test("a client that connects and says nothing, or half a line, blocks nobody")
    func silentClients() async throws {
        try await withServer { path, _ in
            let silent = try RawConnection(path: path)
            let half = try RawConnection(path: path)
            half.send(#"{"cmd":"sta"#)
            let response = try await ControlClient.send(.status, socketPath: path, timeout: Self.patience)
            #expect(response.ok)
            half.send(#"tus"}"# + "\n")
            #expect(await half.response()?.ok == true)
            _ = silent
        }
    }

    @Test("many concurrent clients are all answered")
    func concurrentClients() async throws {
        try await withServer(handler: { request, _ in
            await Task.yield()
            return .success("zone \(request.zone ?? "-")")
        }) { path, seen in
            try await withThrowingTaskGroup(of: ControlResponse.self) { group in
                for i in 0..<40 {
                    group.addTask { try await ControlClient.send(.ack(zone: "zone-\(i)"), socketPath: path, timeout: Self.patience) }
                }
                var messages: Set<String> = []
                for try await response in group { messages.insert(response.message) }
                #expect(messages == Set((0..<40).map { "zone zone-\($0)" }))
            }
            #expect(seen.count == 40)
        }
    }

    @Test("a refusal from the handler reaches the client as ok:false with its code")
    func handlerRefusal() async throws {
        try await withServer(handler: { _, _ in .failure("refused", "reset refused: off-gas still detected") }) {
            path, _ in
            let response = try await ControlClient.send(.reset(zone: "a"), socketPath: path, timeout: Self.patience)
            #expect(!response.ok)
            #expect(response.error == "refused")
            #expect(response.message == "reset refused: off-gas still detected")
        }
    }

    @Test("no daemon: a distinct error, exit code 69, naming the socket and what to do")
    func daemonNotRunning() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("control.sock")
        #expect {
            try ControlClient.send(.status, socketPath: path, timeout: Self.patience)
        } throws: { error in
            guard let e = error as? ControlClientError else { return false }
            return e.code == .daemonNotRunning && e.exitCode == 69
                && e.message == "firewatch daemon is not running (no socket at \(path)); "
                    + "start it with systemctl start firewatch or pass --socket"
        }

        // A socket file left by a dead daemon: ECONNREFUSED, the same answer.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let address = try #require(UnixSocketAddress(path: path))
        #expect(address.withSockaddr { bind(fd, $0, $1) } == 0)
        close(fd)
        #expect(throws: ControlClientError.self) { try ControlClient.send(.status, socketPath: path, timeout: Self.patience) }
        do {
            _ = try ControlClient.send(.status, socketPath: path, timeout: Self.patience)
        } catch {
            #expect(error.code == .daemonNotRunning)
            #expect(error.errno == ECONNREFUSED)
        }
    }

    @Test("a stale socket is replaced; a live one or a regular file is refused")
    func staleAndLiveSockets() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("control.sock")
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        let address = try #require(UnixSocketAddress(path: path))
        #expect(address.withSockaddr { bind(fd, $0, $1) } == 0)
        close(fd)
        let server = try ControlServer(path: path, logger: logger) { _, _ in .success("ok") }
        #expect(throws: ControlServerError.self) {
            _ = try ControlServer(path: path, logger: logger) { _, _ in .success("second") }
        }
        _ = server

        let file = dir.file("not-a-socket")
        #expect(FileManager.default.createFile(atPath: file, contents: Data("keep me".utf8)))
        #expect(throws: ControlServerError.self) {
            _ = try ControlServer(path: file, logger: logger) { _, _ in .success("x") }
        }
        #expect(FileManager.default.contents(atPath: file) == Data("keep me".utf8))
    }
}

@Suite("Control requests")
struct ControlRequestTests {
    @Test("requests encode to one JSON line and parse back")
    func roundTrip() throws {
        let requests: [ControlRequest] = [
            .status, .ack(zone: "a"), .reset(zone: "b"), .abort(zone: "c"), .enable(zone: "d"),
            .inhibit(zone: "battery-room-a", duration: .seconds(5400), reason: "maintenance \"A\""),
            .notifyTest(channel: nil), .notifyTest(channel: "pager"),
        ]
        for request in requests {
            #expect(try ControlRequest.parse(line: Array(request.jsonLine.utf8)) == request)
        }
        #expect(
            ControlRequest.inhibit(zone: "a", duration: .seconds(7200), reason: "r").jsonLine
                == #"{"cmd":"inhibit","zone":"a","for":"2h","reason":"r"}"#)
    }

    @Test("durations: units, combinations, rejects")
    func durations() {
        #expect(DurationText.parse("500ms") == .milliseconds(500))
        #expect(DurationText.parse("30s") == .seconds(30))
        #expect(DurationText.parse("2m") == .seconds(120))
        #expect(DurationText.parse("1h30m") == .seconds(5400))
        #expect(DurationText.parse("1.5h") == .seconds(5400))
        #expect(DurationText.parse("1d") == .seconds(86_400))
        for bad in ["", "5", "h", "5x", "-1h", "1h 5", "tomorrow"] { #expect(DurationText.parse(bad) == nil, "\(bad)") }
        #expect(DurationText.format(.seconds(7200)) == "2h")
        #expect(DurationText.format(.seconds(90)) == "90s")
        #expect(DurationText.format(.milliseconds(1500)) == "1.5s")
    }

    @Test("responses round-trip through their JSON line")
    func responses() {
        let success = ControlResponse.success("ok", data: .object([JSONMember("zones", .int(3))]))
        #expect(ControlResponse.parse(line: Array(success.jsonLine.utf8)) == success)
        let failure = ControlResponse.failure("refused", "no")
        #expect(failure.jsonLine == #"{"ok":false,"error":"refused","message":"no"}"#)
        #expect(ControlResponse.parse(line: Array("{}".utf8)) == nil)
    }
}

@Suite("Resume requests and operator names")
struct ResumeRequestTests {
    @Test("resume parses, round-trips and is listed among the commands")
    func resumeParses() throws {
        let request = try ControlRequest.parse(line: Array(#"{"cmd":"resume","zone":"battery-room-a"}"#.utf8))
        #expect(request == .resume(zone: "battery-room-a"))
        #expect(request.jsonLine == #"{"cmd":"resume","zone":"battery-room-a"}"#)
        #expect(throws: ControlRequestError.self) { try ControlRequest.parse(line: Array(#"{"cmd":"resume"}"#.utf8)) }
        do {
            _ = try ControlRequest.parse(line: Array(#"{"cmd":"resum"}"#.utf8))
        } catch {
            #expect(error.message.contains("resume"))
        }
    }

    @Test("notify_test names one channel or none; a channel that is not a name is refused")
    func notifyTestParses() throws {
        #expect(ControlRequest.notifyTest(channel: "ops").jsonLine == #"{"cmd":"notify_test","channel":"ops"}"#)
        #expect(try ControlRequest.parse(line: Array(#"{"cmd":"notify_test"}"#.utf8)) == .notifyTest(channel: nil))
        #expect(throws: ControlRequestError.self) {
            try ControlRequest.parse(line: Array(#"{"cmd":"notify_test","channel":7}"#.utf8))
        }
    }

    @Test("test and test_end parse; a walk test needs a duration up to 8h and a reason")
    func walkTestParses() throws {
        let start = ControlRequest.test(zone: "room", duration: .seconds(3600), reason: "walk")
        #expect(start.jsonLine == #"{"cmd":"test","zone":"room","for":"1h","reason":"walk"}"#)
        #expect(try ControlRequest.parse(line: Array(start.jsonLine.utf8)) == start)
        #expect(try ControlRequest.parse(line: Array(#"{"cmd":"test_end","zone":"room"}"#.utf8)) == .endTest(zone: "room"))
        func error(_ line: String) -> String? {
            do {
                _ = try ControlRequest.parse(line: Array(line.utf8))
                return nil
            } catch { return error.message }
        }
        #expect(error(#"{"cmd":"test","zone":"room","reason":"walk"}"#)?.contains("how long to test") == true)
        #expect(error(#"{"cmd":"test","zone":"room","for":"9h","reason":"walk"}"#)?.contains("at most 8h") == true)
        #expect(error(#"{"cmd":"test","zone":"room","for":"1h"}"#)?.contains("what the walk test is for") == true)
        #expect(error(#"{"cmd":"test_end"}"#)?.contains(#"field "zone" is missing"#) == true)
        // A relayed walk test reaches the other gateway's engine whole.
        let relayed = RelayedCommand(
            gateway: "gw-a", command: .test(zone: "room", uid: "0", duration: .seconds(1800), reason: "walk"), user: "root")
        #expect(relayed.operatorCommand == .test(zone: "room", uid: "0", duration: .seconds(1800), reason: "walk"))
        #expect(RelayedCommand(gateway: "gw-a", command: .endTest(zone: "room", uid: "0"), user: nil).operatorCommand
            == .endTest(zone: "room", uid: "0"))
    }

    @Test("a uid is named from the passwd database; an unknown one is not")
    func userNames() {
        #expect(UserName.of(uid: 0) == "root")
        #expect(UserName.of(uid: 4_000_000_000) == nil)
    }
}

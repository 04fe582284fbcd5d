import AsyncHTTPClient
import Foundation
import Gateway
import Hummingbird
import Logging
import Synchronization
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// What a test HTTP receiver does with a request to one of its paths.
enum ReceiverBehavior: Sendable {
    /// Answer with this status.
    case respond(Int)
    /// Accept and never answer (until the test ends; bounded at 60 s so nothing outlives a stuck run).
    case hang
}

/// An ordered log shared by receivers and notifier callbacks, so tests can assert what happened before what.
final class EventLog: Sendable {
    private let entries = Mutex<[String]>([])
    private let waiters = Mutex<[(count: Int, prefix: String, continuation: CheckedContinuation<Void, Never>)]>([])

    func append(_ entry: String) {
        entries.withLock { $0.append(entry) }
        let ready = waiters.withLock { waiters -> [CheckedContinuation<Void, Never>] in
            let snapshot = entries.withLock { $0 }
            var ready: [CheckedContinuation<Void, Never>] = []
            waiters.removeAll { waiter in
                let matched = snapshot.filter { $0.hasPrefix(waiter.prefix) }.count >= waiter.count
                if matched { ready.append(waiter.continuation) }
                return matched
            }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    var all: [String] { entries.withLock { $0 } }

    func matching(_ prefix: String) -> [String] { all.filter { $0.hasPrefix(prefix) } }

    /// Waits until `count` entries start with `prefix`, or `limit` passes; returns the entries with that prefix.
    @discardableResult
    func wait(for count: Int, _ prefix: String, limit: Duration = .seconds(60)) async -> [String] {
        await withTaskGroup(of: Void.self) { group in
            group.addTask {
                await withCheckedContinuation { continuation in
                    let done = self.waiters.withLock { waiters -> Bool in
                        if self.matching(prefix).count >= count { return true }
                        waiters.append((count, prefix, continuation))
                        return false
                    }
                    if done { continuation.resume() }
                }
            }
            group.addTask { try? await Task.sleep(for: limit) }
            await group.next()
            group.cancelAll()
            // Release a waiter left behind by the time limit so the group can finish.
            let stale = self.waiters.withLock { waiters -> [CheckedContinuation<Void, Never>] in
                let stale = waiters.filter { $0.prefix == prefix && $0.count == count }.map(\.continuation)
                waiters.removeAll { $0.prefix == prefix && $0.count == count }
                return stale
            }
            for continuation in stale { continuation.resume() }
        }
        return matching(prefix)
    }
}

/// Runs a hummingbird receiver on 127.0.0.1, port 0, whose paths behave as given; every request body is logged
/// as `"<path> <body>"` on arrival. Returns the bound port to `body`, and stops the receiver after it.
func withReceiver<T: Sendable>(
    _ paths: [String: ReceiverBehavior], log: EventLog, _ body: @Sendable (Int) async throws -> T
) async throws -> T {
    let router = Router()
    for (path, behavior) in paths {
        router.post(RouterPath(path)) { request, _ -> Response in
            let bytes = try await request.body.collect(upTo: 1 << 20)
            log.append("\(path) \(String(buffer: bytes))")
            switch behavior {
            case .respond(let code):
                return Response(status: .init(code: code))
            case .hang:
                try await Task.sleep(for: .seconds(60))
                return Response(status: .ok)
            }
        }
    }
    let (ports, portInput) = AsyncStream.makeStream(of: Int.self)
    let app = Application(
        router: router, configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in portInput.yield(channel.localAddress?.port ?? 0) },
        logger: Logger(label: "receiver", factory: { _ in SwiftLogNoOpLogHandler() }))
    return try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await app.run()
            return nil
        }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next(), port > 0 else {
            group.cancelAll()
            throw TestFailure("receiver did not start")
        }
        let result = try await body(port)
        group.cancelAll()
        return result
    }
}

/// Runs `service` (a `run()` until cancelled) beside `body`, and cancels it when `body` returns.
func withRunning<T: Sendable>(
    _ run: @escaping @Sendable () async throws -> Void, _ body: @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask {
            try await run()
            return nil
        }
        let result = try await body()
        group.cancelAll()
        return result
    }
}

/// GET `http://127.0.0.1:port/path`: status and body text.
func httpGet(port: Int, _ path: String) async throws -> (status: Int, body: String) {
    let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
    let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
    let body = try await response.body.collect(upTo: 4 << 20)
    return (Int(response.status.code), String(buffer: body))
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A port that was free a moment ago: bind 127.0.0.1:0, read the port, close. The daemon binds it next.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
    defer { close(fd) }
    return try bindLoopbackPort(fd)
}

/// A loopback port that refuses every connection for as long as this lives: bound, never listening, so
/// a connect gets a reset and no other test can take the port meanwhile (a closed free port can be).
final class RefusingPort {
    let port: Int
    private let fd: Int32

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        do { port = try bindLoopbackPort(fd) } catch { close(fd); throw error }
    }

    deinit { close(fd) }
}

private func bindLoopbackPort(_ fd: Int32) throws -> Int {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    guard bound == 0 else { throw TestFailure("bind: errno \(errno)") }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { throw TestFailure("getsockname: errno \(errno)") }
    return Int(UInt16(bigEndian: address.sin_port))
}

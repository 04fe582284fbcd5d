import Foundation
import Logging
import ServiceLifecycle
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The daemon's control socket: a Unix stream socket, mode 0660, one JSON request per line and one JSON
/// response per line (see `ControlRequest`, `ControlResponse`).
///
/// `init` binds (so the socket exists as soon as it returns); `run()` serves until its task is cancelled, then
/// closes every connection and removes the socket file. Sockets are handled by one dedicated thread with
/// `poll(2)`, so a silent or slow client never blocks another and the cooperative pool never waits on a socket.
/// Each valid request goes to `handler` in a child task of `run()`; requests of one connection are answered
/// in order, one at a time. Invalid requests are answered with an error by the server itself.
///
/// A `Service` for swift-service-lifecycle: `run()` follows its contract (return on cancellation).
public final class ControlServer: Service {
    /// Decides one request from one peer; the daemon plugs the engine in here.
    public typealias Handler = @Sendable (ControlRequest, PeerCredentials) async -> ControlResponse

    /// Limits on connections.
    public struct Limits: Sendable {
        /// Connections served at once; more are told so and closed.
        public var maxClients: Int
        /// A connection silent for this long is closed (a forgotten `nc`).
        public var idleTimeout: Duration

        public init(maxClients: Int = 64, idleTimeout: Duration = .seconds(300)) {
            self.maxClients = maxClients
            self.idleTimeout = idleTimeout
        }
    }

    /// The socket file.
    public let path: String
    private let listenFD: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let handler: Handler
    private let limits: Limits
    private let logger: Logger
    private let outbox = Mutex<[(client: UInt64, line: String)]>([])
    private let stopRequested = Atomic<Bool>(false)
    private let started = Atomic<Bool>(false)

    /// Creates the socket at `path` (and its parent directory, mode 0750, if missing) with mode 0660.
    ///
    /// A stale socket left by a crashed daemon is replaced; a live one (another daemon answers) or a file that
    /// is not a socket is an error, so two daemons never share a site.
    public init(path: String, limits: Limits = Limits(), logger: Logger, handler: @escaping Handler) throws {
        self.path = path
        self.limits = limits
        self.logger = logger
        self.handler = handler
        guard let address = UnixSocketAddress(path: path) else {
            throw ControlServerError(
                "control socket path \(path) is longer than 107 bytes", hint: "choose a shorter control_socket path")
        }
        let parent = (path as NSString).deletingLastPathComponent
        if !parent.isEmpty && !FileManager.default.fileExists(atPath: parent) {
            do {
                try FileManager.default.createDirectory(
                    atPath: parent, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            } catch {
                throw ControlServerError(
                    "cannot create \(parent) for the control socket: \(error)",
                    hint: "create it, or set RuntimeDirectory=firewatch in the unit")
            }
        }
        try Self.removeStaleSocket(at: path)

        let fd = socket(
            AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw ControlServerError("socket: \(errnoText(errno))", hint: "check ulimit -n") }
        let bound = address.withSockaddr { bind(fd, $0, $1) }
        if bound != 0 {
            let e = errno
            close(fd)
            throw ControlServerError(
                "bind \(path): \(errnoText(e))",
                hint: "check that the firewatch user may write \(parent) (RuntimeDirectory=firewatch)")
        }
        // chmod after bind: bind honours the umask, and the group (operators) must be able to connect.
        guard chmod(path, 0o660) == 0, listen(fd, 64) == 0 else {
            let e = errno
            close(fd)
            unlink(path)
            throw ControlServerError(
                "chmod/listen \(path): \(errnoText(e))", hint: "check the file system holding \(path)")
        }
        var pipeFDs: [Int32] = [0, 0]
        guard pipe(&pipeFDs) == 0 else {
            close(fd)
            unlink(path)
            throw ControlServerError("pipe: \(errnoText(errno))", hint: "check ulimit -n")
        }
        // pipe2/accept4 are hidden by Glibc's overlay (_GNU_SOURCE); fcntl does the same.
        for pipeFD in pipeFDs { Self.makeNonBlockingCloseOnExec(pipeFD) }
        listenFD = fd
        wakeRead = pipeFDs[0]
        wakeWrite = pipeFDs[1]
    }

    deinit {
        // run() closes everything when it ends; this covers a server that was never run.
        if !started.load(ordering: .acquiring) {
            close(listenFD)
            unlink(path)
        }
        close(wakeRead)
        close(wakeWrite)
    }

    private static func makeNonBlockingCloseOnExec(_ fd: Int32) {
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
    }

    private static func removeStaleSocket(at path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw ControlServerError(
                "\(path) exists and is not a socket", hint: "move it aside or choose another control_socket")
        }
        let probe = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(probe) }
        let connected = UnixSocketAddress(path: path)?.withSockaddr { connect(probe, $0, $1) } ?? -1
        if connected == 0 {
            throw ControlServerError(
                "another daemon is listening on \(path)",
                hint: "stop it first (systemctl stop firewatch), or give this one another control_socket")
        }
        unlink(path)  // ECONNREFUSED: left behind by a daemon that died
    }

    /// Serves until graceful shutdown or until the calling task is cancelled; then closes all connections and
    /// removes the socket file.
    public func run() async throws {
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else {
            throw ControlServerError("ControlServer.run() called twice", hint: "create one server per socket")
        }
        let (requests, continuation) = AsyncStream.makeStream(of: IncomingRequest.self)
        // Started before the first suspension, so serving never waits for a free cooperative thread.
        let threadFinished = ThreadCompletion()
        let thread = Thread { [self] in
            self.pollLoop(continuation)
            continuation.finish()
            threadFinished.signal()
        }
        thread.name = "firewatch-control"
        thread.start()
        logger.info("control socket listening", metadata: ["path": "\(path)"])
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                await withDiscardingTaskGroup { group in
                    // Ends when the thread finishes the stream, or at once when this task is cancelled.
                    for await incoming in requests {
                        group.addTask {
                            let response = await self.handler(incoming.request, incoming.peer)
                            self.respond(to: incoming.client, response.jsonLine)
                        }
                    }
                }
            } onGracefulShutdown: {
                self.stop()
            }
        } onCancel: {
            self.stop()
        }
        // run() must not return before the thread has closed its sockets, or their numbers could be
        // reused elsewhere while the thread still polls them.
        await threadFinished.wait()
    }

    private func stop() {
        stopRequested.store(true, ordering: .releasing)
        wake()
    }

    private func respond(to client: UInt64, _ line: String) {
        outbox.withLock { $0.append((client, line)) }
        wake()
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)  // EAGAIN means a wake-up is already pending: fine
    }

    struct IncomingRequest: Sendable {
        var client: UInt64
        var request: ControlRequest
        var peer: PeerCredentials
    }

    /// One connection, owned by the poll thread alone.
    private struct Connection {
        var id: UInt64
        var fd: Int32
        var peer: PeerCredentials
        var input: [UInt8] = []
        var output: [UInt8] = []
        /// A request of this connection is with the handler; later lines wait so answers stay in order.
        var busy = false
        /// Close once `output` is written (the peer hung up, or sent a line we cannot resynchronise after).
        var closing = false
        /// The peer shut down its sending side (`echo … | socat`): answer what it sent, then close.
        var readClosed = false
        var lastActivity: ContinuousClock.Instant
    }

    // MARK: The poll thread

    private func pollLoop(_ requests: AsyncStream<IncomingRequest>.Continuation) {
        var connections: [UInt64: Connection] = [:]
        var nextID: UInt64 = 1
        let clock = ContinuousClock()

        func enqueue(_ response: ControlResponse, _ c: inout Connection) {
            c.output += Array(response.jsonLine.utf8)
            c.output.append(0x0A)
        }

        /// Takes complete lines from `input` while no request of this connection is in flight.
        func processInput(_ c: inout Connection) {
            while !c.busy && !c.closing {
                guard let newline = c.input.firstIndex(of: 0x0A) else {
                    if c.input.count > ControlRequest.maxLineBytes {
                        let error = ControlRequestError(
                            .tooLong,
                            "request line longer than \(ControlRequest.maxLineBytes) bytes; closing this connection")
                        enqueue(.failure(error.code.rawValue, error.message), &c)
                        c.input = []
                        c.closing = true
                    }
                    return
                }
                var line = c.input[..<newline]
                c.input.removeSubrange(...newline)
                if line.last == 0x0D { line = line.dropLast() }
                if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
                do {
                    let request = try ControlRequest.parse(line: line)
                    c.busy = true
                    requests.yield(IncomingRequest(client: c.id, request: request, peer: c.peer))
                } catch {
                    logger.notice(
                        "control request refused", metadata: ["uid": "\(c.peer.uid)", "error": "\(error.message)"])
                    enqueue(.failure(error.code.rawValue, error.message), &c)
                }
            }
        }

        func closeConnection(_ id: UInt64) {
            if let c = connections.removeValue(forKey: id) { close(c.fd) }
        }

        while !stopRequested.load(ordering: .acquiring) {
            var fds = [
                pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0),
                pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0),
            ]
            let order = Array(connections.keys)
            for id in order {
                let c = connections[id]!
                var events: Int16 = 0
                if !c.closing && !c.readClosed && c.input.count <= ControlRequest.maxLineBytes {
                    events |= Int16(POLLIN)
                }
                if !c.output.isEmpty { events |= Int16(POLLOUT) }
                fds.append(pollfd(fd: c.fd, events: events, revents: 0))
            }
            let ready = poll(&fds, nfds_t(fds.count), 1000)
            if ready < 0 && errno != EINTR {
                logger.error("control socket poll failed: \(errnoText(errno))")
                break
            }
            let now = clock.now

            // Answers from the handler.
            if fds[1].revents != 0 {
                var drain = [UInt8](repeating: 0, count: 256)
                while read(wakeRead, &drain, drain.count) > 0 {}
            }
            let answers: [(client: UInt64, line: String)] = outbox.withLock { box in
                let taken = box
                box.removeAll()
                return taken
            }
            for (client, line) in answers {
                guard var c = connections[client] else { continue }  // the client went away meanwhile
                c.output += Array(line.utf8)
                c.output.append(0x0A)
                c.busy = false
                processInput(&c)
                connections[client] = c
            }

            // New connections.
            if fds[0].revents & Int16(POLLIN) != 0 {
                for _ in 0..<64 {
                    let fd = accept(listenFD, nil, nil)
                    if fd < 0 { break }
                    Self.makeNonBlockingCloseOnExec(fd)
                    guard connections.count < limits.maxClients, let peer = PeerCredentials.of(socket: fd) else {
                        let busy =
                            ControlResponse.failure("busy", "too many control connections; try again").jsonLine + "\n"
                        _ = busy.withCString { send(fd, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
                        close(fd)
                        continue
                    }
                    connections[nextID] = Connection(id: nextID, fd: fd, peer: peer, lastActivity: now)
                    nextID += 1
                }
            }

            // Reads and writes.
            for (index, id) in order.enumerated() {
                guard var c = connections[id] else { continue }
                let revents = fds[index + 2].revents
                var hungUp = false
                if c.readClosed {
                    // Fully gone (not just half-closed): nobody is left to read an answer.
                    if revents & Int16(POLLHUP | POLLERR) != 0 { hungUp = true }
                } else if revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                    var buffer = [UInt8](repeating: 0, count: 16_384)
                    let n = recv(c.fd, &buffer, buffer.count, 0)
                    if n > 0 {
                        c.input += buffer[0..<n]
                        c.lastActivity = now
                        processInput(&c)
                    } else if n == 0 {
                        c.readClosed = true
                        // A last request without its newline (printf … | socat) still counts.
                        if !c.input.isEmpty && c.input.last != 0x0A { c.input.append(0x0A) }
                        processInput(&c)
                    } else if errno != EAGAIN && errno != EINTR {
                        hungUp = true
                    }
                }
                if !c.output.isEmpty {
                    let n = c.output.withUnsafeBytes { send(c.fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if n > 0 {
                        c.output.removeFirst(n)
                        c.lastActivity = now
                    } else if n < 0 && errno != EAGAIN && errno != EINTR {
                        hungUp = true
                    }
                }
                let answeredAll = c.output.isEmpty && !c.busy && !c.input.contains(0x0A)
                if hungUp || (c.closing && c.output.isEmpty) || (c.readClosed && answeredAll)
                    || (!c.busy && now - c.lastActivity > limits.idleTimeout)
                {
                    // Idle timeout spares a connection whose request is with the handler. A peer that hangs up
                    // mid-request is closed at once; the request still runs and its answer is dropped.
                    closeConnection(id)
                    continue
                }
                connections[id] = c
            }
        }
        for id in Array(connections.keys) { closeConnection(id) }
        close(listenFD)
        unlink(path)
        logger.info("control socket closed", metadata: ["path": "\(path)"])
    }
}

/// The control socket could not be set up.
public struct ControlServerError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var hint: String

    public init(_ message: String, hint: String) {
        self.message = message
        self.hint = hint
    }

    public var description: String { "\(message) — \(hint)" }
}

/// Lets an async caller wait for a thread to finish, whichever comes first (the wait or the finish).
final class ThreadCompletion: Sendable {
    private enum State {
        case running
        case waiting(CheckedContinuation<Void, Never>)
        case finished
    }
    private let state = Mutex<State>(.running)

    func signal() {
        let waiter: CheckedContinuation<Void, Never>? = state.withLock { s in
            defer { s = .finished }
            if case .waiting(let c) = s { return c }
            return nil
        }
        waiter?.resume()
    }

    /// Not cancellable on purpose: callers need the thread to be gone.
    func wait() async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            let finishedAlready = state.withLock { s -> Bool in
                if case .finished = s { return true }
                s = .waiting(c)
                return false
            }
            if finishedAlready { c.resume() }
        }
    }
}

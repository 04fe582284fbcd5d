import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The CLI's side of the control socket: connect, send one request line, read one response line.
public enum ControlClient {
    /// The socket `firewatch status|ack|…` use when neither `--socket` nor `--config` says otherwise.
    public static let defaultSocketPath = "/run/firewatch/control.sock"

    /// Sends `request` to the daemon at `socketPath` and returns its answer. Blocks the calling thread
    /// for at most about `timeout`; call it from the CLI's main thread, or use the async variant.
    public static func send(
        _ request: ControlRequest, socketPath: String = defaultSocketPath, timeout: Duration = .seconds(10)
    ) throws(ControlClientError) -> ControlResponse {
        guard let address = UnixSocketAddress(path: socketPath) else {
            throw ControlClientError(.io, socketPath: socketPath, message: "socket path is longer than 107 bytes")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else {
            throw ControlClientError(.io, socketPath: socketPath, message: "socket: \(errnoText(errno))")
        }
        defer { close(fd) }
        let seconds = timeout.components.seconds
        var tv = timeval(
            tv_sec: time_t(max(seconds, 0)),
            tv_usec: suseconds_t(seconds < 0 ? 0 : timeout.components.attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))

        if address.withSockaddr({ connect(fd, $0, $1) }) != 0 {
            let e = errno
            switch e {
            case ENOENT, ECONNREFUSED, ENOTDIR:
                throw ControlClientError(
                    .daemonNotRunning, socketPath: socketPath, errno: e,
                    message: "firewatch daemon is not running (no socket at \(socketPath)); "
                        + "start it with systemctl start firewatch or pass --socket")
            case EACCES, EPERM:
                throw ControlClientError(
                    .permissionDenied, socketPath: socketPath, errno: e,
                    message: "not allowed to connect to \(socketPath): \(errnoText(e)); "
                        + "join the firewatch group (usermod -aG firewatch $USER, then log in again) or use sudo")
            default:
                throw ControlClientError(
                    .io, socketPath: socketPath, errno: e,
                    message: "connect \(socketPath): \(errnoText(e))")
            }
        }
        let line = Array((request.jsonLine + "\n").utf8)
        var sent = 0
        while sent < line.count {
            let n = line[sent...].withUnsafeBytes { systemSend(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(errno, socketPath, "send")
            }
            sent += n
        }
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16_384)
        while !received.contains(0x0A) {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n < 0 {
                if errno == EINTR { continue }
                throw failure(errno, socketPath, "receive")
            }
            if n == 0 {
                throw ControlClientError(
                    .badResponse, socketPath: socketPath,
                    message: "the daemon closed the connection without answering; see journalctl -u firewatch")
            }
            received += buffer[0..<n]
            if received.count > 16 << 20 {
                throw ControlClientError(
                    .badResponse, socketPath: socketPath, message: "the daemon's answer is too long")
            }
        }
        let responseLine = received[..<received.firstIndex(of: 0x0A)!]
        guard let response = ControlResponse.parse(line: responseLine) else {
            let shown = String(decoding: responseLine.prefix(200), as: UTF8.self)
            throw ControlClientError(
                .badResponse, socketPath: socketPath, message: "the daemon's answer is not a control response: \(shown)"
            )
        }
        return response
    }

    /// The same, on a thread of its own, for async callers (the cooperative pool never blocks on the socket).
    public static func send(
        _ request: ControlRequest, socketPath: String = defaultSocketPath, timeout: Duration = .seconds(10)
    ) async throws(ControlClientError) -> ControlResponse {
        let result: Result<ControlResponse, ControlClientError> = await onOwnThread(name: "firewatch-control-client") {
            Result { () throws(ControlClientError) in try send(request, socketPath: socketPath, timeout: timeout) }
        }
        return try result.get()
    }

    private static func failure(_ e: Int32, _ path: String, _ what: String) -> ControlClientError {
        if e == EAGAIN || e == EWOULDBLOCK {
            return ControlClientError(
                .timeout, socketPath: path, errno: e,
                message: "the daemon did not answer in time on \(path); it may be stuck: "
                    + "see systemctl status firewatch and journalctl -u firewatch")
        }
        return ControlClientError(.io, socketPath: path, errno: e, message: "\(what) on \(path): \(errnoText(e))")
    }
}

/// Why the CLI could not get an answer from the daemon.
public struct ControlClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure, for the exit code.
    public enum Code: Sendable, Equatable {
        /// No socket, or nobody listening on it (ENOENT, ECONNREFUSED).
        case daemonNotRunning
        /// The socket exists but this user may not connect (not in the daemon's group).
        case permissionDenied
        /// Connected, but no answer within the timeout.
        case timeout
        /// The answer was missing or not a response.
        case badResponse
        case io
    }

    public var code: Code
    public var socketPath: String
    public var errno: Int32?
    /// One line for the operator, saying what to do.
    public var message: String

    public init(_ code: Code, socketPath: String, errno: Int32? = nil, message: String) {
        self.code = code
        self.socketPath = socketPath
        self.errno = errno
        self.message = message
    }

    /// The process exit code per CONTRACT.md: 69 when the daemon is unreachable, 1 otherwise.
    public var exitCode: Int32 {
        switch code {
        case .daemonNotRunning, .timeout: 69
        case .permissionDenied, .badResponse, .io: 1
        }
    }

    public var description: String { message }
}

// File scope: inside `ControlClient`, `send` names its own method.
private func systemSend(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int, _ flags: Int32) -> Int {
    send(fd, buffer, count, flags)
}

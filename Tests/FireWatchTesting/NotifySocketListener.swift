import Foundation

/// A bound `AF_UNIX` datagram socket standing in for systemd's `NOTIFY_SOCKET`.
public final class NotifySocketListener: @unchecked Sendable {
    // @unchecked: `fd` is immutable and only read by the one test that owns the listener.
    let fd: Int32
    /// A file path, or `@name` for the abstract namespace (as `NOTIFY_SOCKET` spells it).
    public let path: String

    /// Binds `path`. Each `receive()` waits at most `receiveTimeout`, so a missing datagram fails a test
    /// instead of hanging it.
    public init(path: String, receiveTimeout: Duration = .seconds(5)) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(path.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        // An abstract name has no terminating NUL; a path does.
        let length = MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard rc == 0 else {
            let code = errno
            close(fd)
            throw POSIXError(POSIXErrorCode(rawValue: code) ?? .EIO)
        }
        let (seconds, attoseconds) = receiveTimeout.components
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int(attoseconds / 1_000_000_000_000))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    /// One datagram, or nil after the receive timeout.
    public func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n < 0 ? nil : String(decoding: buffer[0..<n], as: UTF8.self)
    }

    /// Collects datagrams until one satisfies `done` (true) or `limit` passes (false).
    public func collect(into messages: inout [String], limit: Duration = .seconds(20), until done: (String) -> Bool)
        -> Bool
    {
        let deadline = ContinuousClock.now + limit
        for _ in 0..<10_000 {
            if let message = receive() {
                messages.append(message)
                if done(message) { return true }
            }
            if ContinuousClock.now > deadline { break }
        }
        return false
    }

    deinit { close(fd) }
}

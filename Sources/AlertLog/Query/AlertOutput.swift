#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Buffered writes to a file descriptor (stdout), so a million lines are not a million `write(2)`s, and a
/// reader that went away (`| head`) is noticed as ``Closed`` instead of a crash by SIGPIPE.
///
/// Not `Sendable`: one task writes.
public final class AlertOutput {
    /// The other end of the pipe was closed (EPIPE); the command ends quietly.
    public struct Closed: Error, Sendable {}

    private let fd: Int32
    private var buffer: [UInt8] = []
    private let limit = 256 * 1024
    /// Asked when a write is interrupted by a signal: true (SIGINT seen) gives up instead of retrying.
    private let interrupted: () -> Bool

    /// Writes to `fd` (1 for stdout). The caller ignores SIGPIPE so a closed pipe shows up as EPIPE.
    public init(fd: Int32 = 1, interrupted: @escaping () -> Bool = { false }) {
        self.fd = fd
        self.interrupted = interrupted
        buffer.reserveCapacity(limit + 4096)
    }

    /// Queues `bytes` and a newline.
    public func writeLine<Bytes: Collection>(_ bytes: Bytes) throws where Bytes.Element == UInt8 {
        buffer.append(contentsOf: bytes)
        buffer.append(0x0A)
        if buffer.count >= limit { try flush() }
    }

    /// Queues `text` and a newline.
    public func writeLine(_ text: String) throws { try writeLine(Array(text.utf8)) }

    /// Writes out everything queued.
    public func flush() throws {
        var written = 0
        defer { buffer.removeFirst(min(written, buffer.count)) }
        while written < buffer.count {
            let n = buffer.withUnsafeBytes { write(fd, $0.baseAddress! + written, $0.count - written) }
            if n > 0 {
                written += n
            } else if n < 0 && errno == EINTR && !interrupted() {
                continue
            } else {
                buffer.removeAll()
                written = 0
                throw Closed()  // EPIPE, or any other reason the reader cannot take more
            }
        }
    }
}

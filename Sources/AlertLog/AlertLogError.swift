#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Why the alert log could not be written or read, with the file and what to do about it.
public struct AlertLogError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, in categories the daemon's status and tests can switch on.
    public enum Code: Sendable, Equatable {
        /// `open(2)` of the log failed (missing directory, a directory in the file's place, permissions).
        case open
        /// `write(2)` or `fsync(2)` failed (disk full, I/O error, read-only file system).
        case write
        /// Renaming files during rotation failed.
        case rotate
        /// The last complete line is not a record this writer can continue from.
        case corruptTail
        /// Reading a log file failed.
        case read
    }

    public var code: Code
    /// The file concerned.
    public var path: String
    /// `errno` of the failing call, when there was one.
    public var errno: Int32?
    /// What happened, in one line.
    public var message: String
    /// What an operator should do about it.
    public var hint: String

    public init(code: Code, path: String, errno: Int32? = nil, message: String, hint: String) {
        self.code = code
        self.path = path
        self.errno = errno
        self.message = message
        self.hint = hint
    }

    /// Builds an error from a failed system call, reading the message for `errno`.
    static func system(_ code: Code, path: String, call: String, errno err: Int32) -> AlertLogError {
        let reason = String(cString: strerror(err))
        let hint: String
        switch err {
        case ENOSPC, EDQUOT:
            hint = "free space on the file system holding \(path); records are kept in memory meanwhile"
        case EACCES, EPERM:
            hint = "let the firewatch user write \(path) (check owner and mode, and ReadWritePaths= of the unit)"
        case EROFS: hint = "the file system holding \(path) is read-only; remount it read-write or move alert_log"
        case EISDIR: hint = "\(path) is a directory; move it aside so the log file can be created"
        case ENOENT: hint = "create the directory holding \(path) (StateDirectory= does this under systemd)"
        default: hint = "check the disk holding \(path) (dmesg, df); records are kept in memory and retried"
        }
        return AlertLogError(code: code, path: path, errno: err, message: "\(call) \(path): \(reason)", hint: hint)
    }

    public var description: String { "\(message) — \(hint)" }
}

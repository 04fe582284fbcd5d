#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Tells systemd how the daemon is doing (`sd_notify(3)`): one datagram per message to `$NOTIFY_SOCKET`.
///
/// Hand-written (about 30 lines) rather than linking libsystemd. A path starting with `@` is an abstract
/// socket. Without `NOTIFY_SOCKET` (not started by systemd with `Type=notify`) every call does nothing.
public struct SystemdNotifier: Sendable {
    /// The socket messages go to, or nil when not run under systemd.
    public let socketPath: String?
    /// The watchdog interval systemd asked for (`WATCHDOG_USEC`), or nil when there is none for this process.
    public let watchdogInterval: Duration?

    /// How often to send `WATCHDOG=1`: half the interval, as sd_watchdog_enabled(3) advises.
    public var watchdogPingInterval: Duration? { watchdogInterval.map { $0 / 2 } }

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`.
    public init(environment: [String: String]) {
        let path = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        socketPath = path
        watchdogInterval = Self.watchdogInterval(environment: environment, pid: getpid())
    }

    /// Reads the process environment.
    public init() {
        var env: [String: String] = [:]
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            if let value = getenv(key) { env[key] = String(cString: value) }
        }
        self.init(environment: env)
    }

    /// `WATCHDOG_USEC` as a duration, when set, positive, and meant for `pid` (`WATCHDOG_PID` absent or equal).
    public static func watchdogInterval(environment: [String: String], pid: pid_t) -> Duration? {
        guard let usec = environment["WATCHDOG_USEC"].flatMap({ UInt64($0) }), usec > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"], Int32(owner) != pid { return nil }
        return .microseconds(Int64(clamping: usec))
    }

    /// The startup is finished (the first full poll cycle is done).
    public func ready() throws { try notify("READY=1") }
    /// Keeps the watchdog from restarting us; send only while polling makes progress, every interval / 2.
    public func watchdog() throws { try notify("WATCHDOG=1") }
    /// A one-line summary for `systemctl status`.
    public func status(_ text: String) throws {
        try notify("STATUS=" + text.split(whereSeparator: \.isNewline).joined(separator: " "))
    }
    /// Shutdown has begun (SIGTERM).
    public func stopping() throws { try notify("STOPPING=1") }
    /// A configuration reload has begun (SIGHUP); send `ready()` when it is done.
    public func reloading() throws {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        // systemd 253+ wants MONOTONIC_USEC with RELOADING=1 for Type=notify-reload; older ones ignore it.
        try notify("RELOADING=1\nMONOTONIC_USEC=\(Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000)")
    }

    /// Sends `state` (newline-separated `KEY=value` assignments) as one datagram; a no-op without a socket.
    public func notify(_ state: String) throws {
        guard let path = socketPath else { return }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemdNotifyError(path: path, call: "socket", errno: errno) }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var pathBytes = Array(path.utf8)
        if pathBytes.first == UInt8(ascii: "@") { pathBytes[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard pathBytes.count < capacity else {
            throw SystemdNotifyError(path: path, call: "connect", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: pathBytes) }
        // Abstract addresses are exactly as long as their bytes; path ones include the terminating NUL.
        let length = MemoryLayout<sa_family_t>.size + pathBytes.count + (pathBytes.first == 0 ? 0 : 1)
        let sent = state.utf8CString.withUnsafeBytes { message in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, message.baseAddress, message.count - 1, Int32(MSG_NOSIGNAL), $0, socklen_t(length))
                }
            }
        }
        if sent < 0 { throw SystemdNotifyError(path: path, call: "sendto", errno: errno) }
    }
}

/// A notification could not be sent to systemd.
public struct SystemdNotifyError: Error, Sendable, Equatable, CustomStringConvertible {
    public var path: String
    public var call: String
    public var errno: Int32

    public var description: String {
        "\(call) NOTIFY_SOCKET \(path): \(String(cString: strerror(errno))) — systemd may not see READY/WATCHDOG; "
            + "check the unit's Type=notify and NotifyAccess="
    }
}

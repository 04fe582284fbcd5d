#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `sockaddr_un` for a filesystem path, built once and passed to bind/connect.
struct UnixSocketAddress {
    var storage = sockaddr_un()
    var length: socklen_t

    /// Nil when the path does not fit `sun_path` (108 bytes on Linux).
    init?(path: String) {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count < MemoryLayout.size(ofValue: storage.sun_path) else { return nil }
        storage.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &storage.sun_path) { $0.copyBytes(from: bytes) }
        length = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + 1)
    }

    func withSockaddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        withUnsafePointer(to: storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, length) }
        }
    }
}

extension PeerCredentials {
    /// The peer of a connected Unix socket, from `SO_PEERCRED`; nil if the kernel will not say.
    static func of(socket fd: Int32) -> PeerCredentials? {
        var cred = LinuxUcred()
        var length = socklen_t(MemoryLayout<LinuxUcred>.size)
        guard getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0 else { return nil }
        return PeerCredentials(pid: cred.pid, uid: cred.uid, gid: cred.gid)
    }
}

/// The message for `errno` value `code`.
func errnoText(_ code: Int32) -> String { String(cString: strerror(code)) }

/// `struct ucred` from <sys/socket.h>, which Glibc's Swift overlay hides (it needs `_GNU_SOURCE`).
/// The layout (pid_t, uid_t, gid_t: three 32-bit fields) is fixed Linux ABI.
struct LinuxUcred {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

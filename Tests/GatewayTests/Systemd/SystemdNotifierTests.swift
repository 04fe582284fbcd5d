import Foundation
import Testing

@testable import Gateway
import FireWatchTesting

/// A bound `AF_UNIX` datagram socket standing in for systemd's notify socket.
private final class NotifyListener {
    let fd: Int32
    let name: String

    /// `name` is a file path, or `@name` for the abstract namespace.
    init(name: String) throws {
        self.name = name
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if bytes.first == UInt8(ascii: "@") { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let length = MemoryLayout<sa_family_t>.size + bytes.count + (bytes.first == 0 ? 0 : 1)
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(length)) }
        }
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
        // Bounded wait so a missing datagram fails the test instead of hanging it.
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = recv(fd, &buffer, buffer.count, 0)
        return n < 0 ? nil : String(decoding: buffer[0..<n], as: UTF8.self)
    }

    deinit { close(fd) }
}

@Suite("sd_notify")
struct SystemdNotifierTests {
    @Test("READY, WATCHDOG, STATUS, STOPPING and RELOADING arrive on a path socket")
    func pathSocket() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let listener = try NotifyListener(name: dir.file("notify.sock"))
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.name])
        try notifier.ready()
        #expect(listener.receive() == "READY=1")
        try notifier.watchdog()
        #expect(listener.receive() == "WATCHDOG=1")
        try notifier.status("polling 9 devices\n3 zones normal")
        #expect(listener.receive() == "STATUS=polling 9 devices 3 zones normal")
        try notifier.stopping()
        #expect(listener.receive() == "STOPPING=1")
        try notifier.reloading()
        let reloading = try #require(listener.receive())
        #expect(reloading.hasPrefix("RELOADING=1\nMONOTONIC_USEC="))
    }

    @Test("an abstract socket (@name) works")
    func abstractSocket() throws {
        let name = "@firewatch-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let listener = try NotifyListener(name: name)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": name])
        try notifier.ready()
        #expect(listener.receive() == "READY=1")
    }

    @Test("without NOTIFY_SOCKET nothing is sent and nothing fails")
    func unset() throws {
        let notifier = SystemdNotifier(environment: [:])
        #expect(notifier.socketPath == nil)
        try notifier.ready()
        try notifier.watchdog()
    }

    @Test("a socket nobody listens on is a clear error")
    func nobodyListening() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": dir.file("absent.sock")])
        #expect(throws: SystemdNotifyError.self) { try notifier.ready() }
    }

    @Test("WATCHDOG_USEC gives the interval, only for our pid")
    func watchdogInterval() {
        let pid = getpid()
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000"], pid: pid) == .seconds(30))
        #expect(
            SystemdNotifier.watchdogInterval(
                environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(pid)"], pid: pid)
                == .seconds(30))
        #expect(
            SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"], pid: pid)
                == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "0"], pid: pid) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: ["WATCHDOG_USEC": "soon"], pid: pid) == nil)
        #expect(SystemdNotifier.watchdogInterval(environment: [:], pid: pid) == nil)
        let notifier = SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000"])
        #expect(notifier.watchdogPingInterval == .seconds(15))
    }
}

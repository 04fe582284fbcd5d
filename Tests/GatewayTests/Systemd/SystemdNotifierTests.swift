import Foundation
import Testing

@testable import Gateway
import FireWatchTesting


@Suite("sd_notify")
struct SystemdNotifierTests {
    @Test("READY, WATCHDOG, STATUS, STOPPING and RELOADING arrive on a path socket")
    func pathSocket() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let listener = try NotifySocketListener(path: dir.file("notify.sock"))
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.path])
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
        let listener = try NotifySocketListener(path: name)
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

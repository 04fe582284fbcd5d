import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Site files for the daemon benchmarks, written into a folder of their own with a bench device profile beside.
enum SiteFiles {
    /// A device whose one poll is three requests (one point in each of three tables): the scale test's device.
    static let threeTableProfile = """
        # make bench: a synthetic device, one point in each of three tables, so that one poll is three requests.
        name: Bench three-request device
        modeled: true
        modeled_on: a synthetic device for make bench, served by a Modbus.Server with one map per unit id
        points:
          temperature: { table: input, address: 0, type: int16, scale: 0.1, unit: "°C", range: [-40, 125] }
          state:       { table: holding, address: 0, type: enum, values: { 0: normal, 1: alarm } }
          fault:       { table: discrete, address: 0, type: bool }

        """

    /// `count` three-request devices, units 1…`unitsPerPort` on each of `ports`, one zone each.
    static func scaleSite(directory: String, count: Int, ports: [Int], unitsPerPort: Int) throws -> String {
        try FileManager.default.createDirectory(atPath: directory + "/devices/bench", withIntermediateDirectories: true)
        try threeTableProfile.write(toFile: directory + "/devices/bench/three-tables.yaml", atomically: true, encoding: .utf8)
        var text = """
            site: bench-scale-\(count)
            poll_interval: 1s
            stale_after: 3s
            timeout: 1s
            alert_log: alerts.jsonl
            control_socket: control.sock
            devices:

            """
        for index in 0..<count {
            let port = ports[index / unitsPerPort]
            text += "  dev-\(index): { profile: bench/three-tables, host: 127.0.0.1, port: \(port), "
            text += "unit: \(index % unitsPerPort + 1) }\n"
        }
        text += "zones:\n"
        for index in 0..<count {
            text += """
                  zone-\(index):
                    signals:
                      temperature: { sources: [dev-\(index).temperature], alert: 35, alarm: 50 }
                      state:       { sources: [dev-\(index).state], alarm: alarm }
                      fault:       { sources: [dev-\(index).fault], alert: true }

                """
        }
        let path = directory + "/site.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// One zone per trial: an off-gas detector (unit i on `gasPort`) and a relay module (unit i on `relayPort`)
    /// whose `start_exhaust` is the zone's isolate step. Uses the shipped profiles.
    static func latencySite(directory: String, zones: Int, gasPort: Int, relayPort: Int, interval: String) throws
        -> String
    {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var text = """
            site: bench-latency
            poll_interval: \(interval)
            stale_after: 2s
            timeout: 500ms
            alert_log: alerts.jsonl
            control_socket: control.sock
            devices:

            """
        for zone in 1...zones {
            text += "  gas-\(zone):  { profile: sensor/offgas, host: 127.0.0.1, port: \(gasPort), unit: \(zone) }\n"
            text += "  feed-\(zone): { profile: io/relay-outputs, host: 127.0.0.1, port: \(relayPort), unit: \(zone) }\n"
        }
        text += "zones:\n"
        for zone in 1...zones {
            text += """
                  zone-\(zone):
                    signals:
                      offgas: { sources: [gas-\(zone).offgas], alert: detected, alarm: detected }
                    isolate:
                      - command: feed-\(zone).start_exhaust

                """
        }
        let path = directory + "/site.yaml"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// A `NOTIFY_SOCKET` of our own: a datagram socket that takes the daemon's sd_notify messages.
final class NotifySocket {
    let path: String
    private let fd: Int32

    init(path: String) throws {
        unlink(path)
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0)
        guard fd >= 0 else { throw BenchError("socket: errno \(errno)") }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { throw BenchError("path too long") }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            for (index, byte) in bytes.enumerated() { buffer[index] = byte }
        }
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard result == 0 else { throw BenchError("bind \(path): errno \(errno)") }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// Waits up to `timeout` seconds for a message containing `READY=1`; returns the monotonic time it came.
    func waitForReady(timeout: Double) -> Double? {
        let deadline = monotonicSeconds() + timeout
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let left = deadline - monotonicSeconds()
            if left <= 0 { return nil }
            var descriptor = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&descriptor, 1, Int32(left * 1000) + 1) > 0 else { continue }
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { continue }
            let message = String(decoding: buffer[0..<count], as: UTF8.self)
            if message.split(separator: "\n").contains("READY=1") { return monotonicSeconds() }
        }
    }
}

/// A running `firewatch run`, with what /proc says about it.
final class Daemon {
    let process: Process
    let pid: Int32
    let startedAt: Double

    /// Starts `firewatch run --config site`; its stderr goes to `log`.
    init(firewatch: String, site: String, log: String, notifySocket: String?) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: firewatch)
        process.arguments = ["run", "--config", site]
        var environment = ProcessInfo.processInfo.environment
        environment["NOTIFY_SOCKET"] = notifySocket
        process.environment = environment
        FileManager.default.createFile(atPath: log, contents: nil)
        let handle = FileHandle(forWritingAtPath: log)
        process.standardError = handle
        process.standardOutput = handle
        process.standardInput = FileHandle.nullDevice
        startedAt = monotonicSeconds()
        try process.run()
        self.process = process
        pid = process.processIdentifier
    }

    /// user+sys CPU seconds so far (all threads), from /proc/PID/stat.
    var cpuSeconds: Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return .nan }
        // Fields after the command name; utime and stime are fields 14 and 15 of the whole line.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return .nan }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// A `Name: value` line of /proc/PID/status, as a number (kB for memory figures).
    func status(_ name: String) -> Double {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return .nan }
        for line in text.split(separator: "\n") where line.hasPrefix(name + ":") {
            let value = line.dropFirst(name.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first
            return value.flatMap { Double($0) } ?? .nan
        }
        return .nan
    }

    var isRunning: Bool { process.isRunning }

    /// SIGTERM, then SIGKILL after 10 s.
    func stop() {
        guard process.isRunning else { return }
        kill(pid, SIGTERM)
        let deadline = monotonicSeconds() + 10
        while process.isRunning && monotonicSeconds() < deadline { usleep(10_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
    }
}

/// Follows a growing file with inotify and hands each complete new line to `onLine` (on its own thread).
final class LineFollower: @unchecked Sendable {
    // @unchecked: `stopped` is only written before the thread is woken for the last time; the rest is immutable.
    private let path: String
    private let onLine: @Sendable (Substring, Double) -> Void
    private var stopped = false
    private let inotify: Int32
    private var thread: Thread?

    init(path: String, onLine: @escaping @Sendable (Substring, Double) -> Void) {
        self.path = path
        self.onLine = onLine
        inotify = inotify_init1(Int32(IN_NONBLOCK))
    }

    func start() {
        let thread = Thread { [self] in follow() }
        thread.name = "bench-follow"
        self.thread = thread
        thread.start()
    }

    func stop() { stopped = true }

    private func follow() {
        var fd: Int32 = -1
        var offset = 0
        var pending: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        var events = [UInt8](repeating: 0, count: 4096)
        var watching = false
        while !stopped {
            if fd < 0 {
                fd = open(path, O_RDONLY)
                if fd >= 0 {
                    _ = inotify_add_watch(inotify, path, UInt32(IN_MODIFY))
                    watching = true
                }
            }
            if fd >= 0 {
                while true {
                    let count = pread(fd, &buffer, buffer.count, off_t(offset))
                    guard count > 0 else { break }
                    let now = monotonicSeconds()
                    offset += count
                    pending.append(contentsOf: buffer[0..<count])
                    while let newline = pending.firstIndex(of: 10) {
                        let line = String(decoding: pending[0..<newline], as: UTF8.self)
                        pending.removeSubrange(0...newline)
                        onLine(line[...], now)
                    }
                }
            }
            var descriptor = pollfd(fd: inotify, events: Int16(POLLIN), revents: 0)
            _ = poll(&descriptor, 1, watching ? 50 : 5)
            _ = read(inotify, &events, events.count)
        }
        if fd >= 0 { close(fd) }
        close(inotify)
    }
}

import Gateway
import SiteConfig

extension SiteFiles {
    /// Loads a generated site with the daemon's own loader, so a bench site the daemon would refuse fails here,
    /// with the loader's message, instead of as a daemon that never gets ready.
    static func validate(_ path: String) throws {
        do {
            _ = try SiteLoader().load(path: path)
        } catch {
            throw BenchError("generated site \(path) does not load: \(error)")
        }
    }

    /// `fw-bench sites --dir D`: writes the scale and latency sites into D and validates them.
    static func check(_ options: Options) throws {
        let directory = options.string("dir")
        try validate(try scaleSite(directory: directory + "/scale", count: 400, ports: [1502, 1503], unitsPerPort: 200))
        try validate(try latencySite(directory: directory + "/latency", zones: 200, gasPort: 1502, relayPort: 1503,
                                     interval: "250ms"))
        print("sites load")
    }
}

import Foundation
import Modbus
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Monotonic times seen for each zone number: when its `step.started` line appeared, when its isolate write came.
final class TrialTimes: Sendable {
    let stepSeen = Mutex<[Int: Double]>([:])
    let writeSeen = Mutex<[Int: Double]>([:])
}

extension Orchestrator {
    /// Whether the daemon exists in this checkout (`firewatch run` answers `--help`).
    var hasDaemon: Bool {
        guard options.has("firewatch") else { return false }
        // An unknown verb also exits 0 (it prints the top-level help), so look for the verb's own usage line.
        let help = (try? Child.output([options.string("firewatch"), "run", "--help"], timeout: 30)) ?? ""
        return help.contains("USAGE: firewatch run")
    }

    func daemonSections() throws -> [String] {
        guard hasDaemon else {
            return [
                """
                ## Daemon: detection latency, scale, startup

                Not measured: `firewatch run` is not in this checkout, so these figures are left out.

                """
            ]
        }
        // A failing piece is reported in its place; the other figures still count.
        let pieces: [(String, () throws -> String)] = [
            ("Detection latency", latencySection), ("Scale", scaleSection), ("Startup", startupSection),
        ]
        let keys = ["Detection latency": "latency", "Scale": "scale", "Startup": "startup"]
        return pieces.filter { wants(keys[$0.0]!) }.map { title, piece in
            do {
                return try piece()
            } catch {
                log("\(title) failed: \(error)")
                return "## \(title)\n\nFailed in this run: \(error)\n"
            }
        }
    }

    // MARK: Detection latency

    func latencySection() throws -> String {
        let trials = options.int("trials", 200)
        let directory = work + "/latency"
        try? FileManager.default.removeItem(atPath: directory)
        let times = TrialTimes()
        let units = (1...trials).map { UInt8($0) }
        let gas = try Serve.makeServer(units: units)
        let relay = try Serve.makeServer(units: units) { unit, table, address, values in
            // start_exhaust is coil 0 set to 1.
            guard table == .coil, address == 0, values.first == 1 else { return }
            let now = monotonicSeconds()
            times.writeSeen.withLock { if $0[Int(unit)] == nil { $0[Int(unit)] = now } }
        }
        defer {
            gas.stop()
            relay.stop()
        }
        let interval = 0.25
        let site = try SiteFiles.latencySite(
            directory: directory, zones: trials, gasPort: gas.port, relayPort: relay.port, interval: "250ms")
        try SiteFiles.validate(site)
        let follower = LineFollower(path: directory + "/alerts.jsonl") { line, now in
            guard line.contains("\"step.started\""),
                let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let zone = object["zone"] as? String, zone.hasPrefix("zone-"), let number = Int(zone.dropFirst(5))
            else { return }
            times.stepSeen.withLock { if $0[number] == nil { $0[number] = now } }
        }
        follower.start()
        defer { follower.stop() }
        let notify = try NotifySocket(path: directory + "/notify.sock")
        let daemon = try Daemon(
            firewatch: options.string("firewatch"), site: site, log: directory + "/daemon.log",
            notifySocket: notify.path)
        defer { daemon.stop() }
        guard notify.waitForReady(timeout: 60) != nil else {
            throw BenchError("latency: the daemon sent no READY=1 within 60 s (see \(directory)/daemon.log)")
        }
        log("latency: daemon ready, \(trials) trials at poll_interval 250ms")
        usleep(500_000)
        var toStep: [Double] = []
        var toWrite: [Double] = []
        var lost = 0
        var generator = SystemRandomNumberGenerator()
        for trial in 1...trials {
            // A random phase of the poll cycle.
            usleep(UInt32(Double.random(in: 0..<interval, using: &generator) * 1e6))
            let flipped = monotonicSeconds()
            try gas.set(.input, address: 0, values: [1], unit: UInt8(trial))
            let deadline = flipped + 5
            var step: Double?
            var write: Double?
            while monotonicSeconds() < deadline {
                step = times.stepSeen.withLock { $0[trial] }
                write = times.writeSeen.withLock { $0[trial] }
                if step != nil && write != nil { break }
                usleep(1_000)
            }
            guard let step, let write else {
                lost += 1
                continue
            }
            toStep.append((step - flipped) * 1e3)
            toWrite.append((write - flipped) * 1e3)
            if trial % 50 == 0 { log("latency: \(trial)/\(trials)") }
        }
        guard daemon.isRunning else { throw BenchError("latency: the daemon exited (see daemon.log)") }
        toStep.sort()
        toWrite.sort()
        let goal = interval * 1e3 + 20
        func row(_ name: String, _ values: [Double]) -> String {
            let p99 = quantile(values, 0.99)
            return "| \(name) | \(format(quantile(values, 0.5), 1)) | \(format(p99, 1)) | "
                + "\(format(values.last ?? .nan, 1)) | \(format(p99 - goal, 1)) \(verdict(p99 <= goal)) |\n"
        }
        var text = """
            ## Detection latency (poll_interval 250 ms)

            \(trials) trials, \(toStep.count) measured\(lost > 0 ? ", \(lost) timed out after 5 s" : "").
            Each trial flips one zone's off-gas detector (a unit of a `Modbus.Server` in the bench process) to
            `detected` at a random phase of the poll cycle and times, on the same monotonic clock: the
            `step.started` line of the zone's isolate step appearing in the alert log (followed with inotify;
            the writer fsyncs it before it acts), and the isolate write (`start_exhaust`, coil 0) reaching the
            device (the server's write hook). The write is sent only after the record is fsynced, so the second
            column is also an upper bound on the record's durability. Goal: p99 ≤ poll_interval + 20 ms = \
            \(format(goal, 0)) ms.

            | time from flip to | p50 ms | p99 ms | max ms | p99 − goal ms |
            | --- | ---: | ---: | ---: | ---: |

            """
        text += row("`step.started` in the alert log", toStep)
        text += row("isolate write at the device", toWrite)
        log("latency: p50/p99 step \(format(quantile(toStep, 0.5), 1))/\(format(quantile(toStep, 0.99), 1)) ms, "
            + "write \(format(quantile(toWrite, 0.5), 1))/\(format(quantile(toWrite, 0.99), 1)) ms")
        return text
    }

    // MARK: Scale

    func scaleSection() throws -> String {
        let counts = (options.string("scale", "200,1000,2000")).split(separator: ",").compactMap { Int($0) }
        let window = options.double("scale-seconds", 15)
        let cLoopCPU = carried.cLoopCPU10 ?? .nan
        var text = """
            ## Scale: devices × 3 requests at 1 Hz, one daemon

            Devices are units 1…200 of `Modbus.Server`s in one separate process (many devices behind one port, as
            behind an RS-485 gateway), each with one point in each of three tables (three requests a poll), one
            zone per device. After READY=1 and 3 s, the bench counts for \(format(window, 0)) s the requests the
            servers answered and the daemon's CPU (/proc/PID/stat); peak RSS is VmHWM and threads is `Threads:`
            of /proc/PID/status at the end. Missed deadlines are polls expected (devices × seconds) but not
            answered (requests / 3), counted when over 0.5 % of the expected polls (a window's edges cut a poll of
            each device or not, at random); the daemon skips a missed tick rather than catching up, so a slow
            cycle shows up as polls not made.
            Goal at 2,000: no missed deadlines, < 30 % of one core, < 100 MB RSS, a bounded thread count.

            | devices | polls/s (expected) | missed | CPU % of one core | CPU µs/request | × C loop | peak RSS MB | threads |
            | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |

            """
        var threadsBySize: [Int: Double] = [:]
        var last: (count: Int, missed: Double, cpu: Double, rss: Double)?
        for count in counts {
            let figures = try scaleRun(count: count, window: window)
            threadsBySize[count] = figures.threads
            let cpuPerRequest = figures.cpu / figures.requests * 1e6
            let polls = figures.requests / 3 / figures.seconds
            // Window edges cut a poll or not at random; a shortfall under 0.5 % of the expected polls is that.
            let short = Double(count) * figures.seconds - figures.requests / 3
            let missed = short > 0.005 * Double(count) * figures.seconds ? short : 0
            text += "| \(grouped(Double(count))) | \(format(polls, 0)) (\(count)) | \(format(missed, 0)) "
            text += "| \(format(figures.cpu / figures.seconds * 100, 1)) | \(format(cpuPerRequest, 1)) "
            text += "| \(format(cpuPerRequest / cLoopCPU, 2)) | \(format(figures.rssKB / 1024, 1)) "
            text += "| \(format(figures.threads, 0)) |\n"
            last = (count, missed, figures.cpu / figures.seconds * 100, figures.rssKB / 1024)
            log("scale \(count): \(format(polls, 0)) polls/s, \(format(figures.cpu / figures.seconds * 100, 1)) % CPU, "
                + "\(format(figures.rssKB / 1024, 1)) MB, \(format(figures.threads, 0)) threads")
        }
        text += "\n× C loop divides by the C loop's CPU per request of 10 registers measured above.\n"
        if let last {
            let threads = counts.map { "\(format(threadsBySize[$0] ?? .nan, 0)) at \(grouped(Double($0)))" }
            let bounded = (threadsBySize[last.count] ?? .infinity) <= (threadsBySize[counts[0]] ?? 0) + 4
            text += "\nGoals at \(grouped(Double(last.count))) devices: missed deadlines \(format(last.missed, 0)) "
            text += "(goal 0: \(verdict(last.missed == 0))); CPU \(format(last.cpu, 1)) % of one core (goal < 30 %: "
            text += "\(verdict(last.cpu < 30))\(last.cpu < 30 ? "" : " by \(format(last.cpu - 30, 1)) points")); "
            text += "peak RSS \(format(last.rss, 1)) MB (goal < 100 MB: \(verdict(last.rss < 100))"
            text += "\(last.rss < 100 ? "" : " by \(format(last.rss - 100, 1)) MB")); threads "
            text += "\(threads.joined(separator: ", ")) (bounded: \(verdict(bounded)), i.e. not growing with devices).\n"
        }
        return text
    }

    struct ScaleFigures {
        var seconds: Double
        var requests: Double
        var cpu: Double
        var rssKB: Double
        var threads: Double
    }

    func scaleRun(count: Int, window: Double) throws -> ScaleFigures {
        let unitsPerPort = 200
        let directory = work + "/scale-\(count)"
        try? FileManager.default.removeItem(atPath: directory)
        let serverCount = (count + unitsPerPort - 1) / unitsPerPort
        let servers = try Child.start([me, "serve", "--servers", String(serverCount), "--units", String(unitsPerPort)])
        defer { servers.stop() }
        var ports: [Int] = []
        for _ in 0..<serverCount {
            let line = servers.readLine()
            guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) else {
                throw BenchError("serve said \(line)")
            }
            ports.append(port)
        }
        func served() throws -> Double {
            servers.stdinPipe.fileHandleForWriting.write(Data("STATS\n".utf8))
            let line = servers.readLine()
            guard line.hasPrefix("STATS "), let value = Double(line.dropFirst(6)) else {
                throw BenchError("serve said \(line)")
            }
            return value
        }
        let site = try SiteFiles.scaleSite(directory: directory, count: count, ports: ports, unitsPerPort: unitsPerPort)
        try SiteFiles.validate(site)
        let notify = try NotifySocket(path: directory + "/notify.sock")
        let daemon = try Daemon(
            firewatch: options.string("firewatch"), site: site, log: directory + "/daemon.log",
            notifySocket: notify.path)
        defer { daemon.stop() }
        guard notify.waitForReady(timeout: 120) != nil else {
            throw BenchError("scale \(count): no READY=1 within 120 s (see \(directory)/daemon.log)")
        }
        usleep(3_000_000)
        let requests0 = try served()
        let cpu0 = daemon.cpuSeconds
        let wall0 = monotonicSeconds()
        usleep(UInt32(window * 1e6))
        let requests1 = try served()
        let cpu1 = daemon.cpuSeconds
        let wall1 = monotonicSeconds()
        guard daemon.isRunning else { throw BenchError("scale \(count): the daemon exited (see daemon.log)") }
        return ScaleFigures(
            seconds: wall1 - wall0, requests: requests1 - requests0, cpu: cpu1 - cpu0, rssKB: daemon.status("VmHWM"),
            threads: daemon.status("Threads"))
    }

    // MARK: Startup

    func startupSection() throws -> String {
        let count = 100
        let unitsPerPort = 200
        let directory = work + "/startup"
        try? FileManager.default.removeItem(atPath: directory)
        let servers = try Child.start([me, "serve", "--servers", "1", "--units", String(unitsPerPort)])
        defer { servers.stop() }
        let line = servers.readLine()
        guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) else { throw BenchError("serve said \(line)") }
        let site = try SiteFiles.scaleSite(directory: directory, count: count, ports: [port], unitsPerPort: unitsPerPort)
        var times: [Double] = []
        for rep in 1...reps {
            try? FileManager.default.removeItem(atPath: directory + "/alerts.jsonl")
            let notify = try NotifySocket(path: directory + "/notify.sock")
            let daemon = try Daemon(
                firewatch: options.string("firewatch"), site: site, log: directory + "/daemon-\(rep).log",
                notifySocket: notify.path)
            let ready = notify.waitForReady(timeout: 60)
            daemon.stop()
            guard let ready else { throw BenchError("startup: no READY=1 within 60 s (see \(directory))") }
            times.append((ready - daemon.startedAt) * 1e3)
        }
        log("startup: \(Spread(times).text(0)) ms to READY=1")
        return """
            ## Startup

            Process start (just before exec) to `READY=1` on a `NOTIFY_SOCKET` the bench bound itself, with 100
            devices (three requests each) on one `Modbus.Server` port; READY=1 comes after the first full poll
            cycle. A fresh alert log each time.

            | figure | median (min–max) |
            | --- | ---: |
            | ms to READY=1 | \(Spread(times).text(0)) |

            """
    }
}

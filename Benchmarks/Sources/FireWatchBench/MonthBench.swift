import AlertLog
import FireSafety
import Foundation
import Gateway
import Scenarios
import Simulator
import SiteConfig
import Synchronization

/// `fw-bench month --root REPO --dir D`: the `long-quiet-month` scenario (30 days of flapping devices at
/// 14,400x) in this process — the simulator and the real daemon on one compressed clock — with the process's
/// resident memory sampled on simulated days 1, 15 and 30, then the restart's restore timed on the month's log.
/// Prints one JSON line of figures.
enum MonthBench {
    static func run(_ options: Options) async throws {
        let root = options.string("root")
        let directory = options.string("dir")
        try? FileManager.default.removeItem(atPath: directory)
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let scenario = try Scenario(contentsOf: root + "/examples/scenarios/long-quiet-month.yaml")
        let site = try SiteLoader(shippedDevices: root + "/devices").load(path: root + "/examples/site.yaml")
        var run = ScenarioRun(site: site, scenario: scenario, speed: scenario.speed, directory: directory)
        // Rotated at 128 KiB and every file kept, so the month's whole record can be counted and read back, and a
        // restore (one file) can be set beside reading the month.
        run.alertLogMaxBytes = 128 << 10
        run.alertLogKeep = 1000
        let samples = Samples()
        let day = Duration.seconds(86_400) / scenario.speed
        let report = try await run.run(onStart: { _ in
            let began = ContinuousClock.now
            samples.start(Task {
                // Day 28.9 is the soak's end before the restart on day 29; the last sample follows the in-process
                // restart, whose second daemon shares the heap of the first (a real restart is a new process).
                let days = [
                    ("rss_day1_kb", 1.0), ("rss_day15_kb", 15.0), ("rss_day29_kb", 28.9), ("rss_restarted_kb", 29.95),
                ]
                for (name, at) in days {
                    do { try await Task.sleep(until: began + day * at, clock: .continuous) } catch { return }
                    samples.record(name, memoryFigure("VmRSS"))
                }
            })
        })
        samples.stop()
        guard report.passed else {
            let failed = report.results.filter { !$0.passed }.map { "line \($0.line): \($0)" }
            throw BenchError("long-quiet-month failed: \(failed.joined(separator: "; "))")
        }
        var figures = samples.figures
        figures["rss_peak_kb"] = memoryFigure("VmHWM")
        figures["records"] = Double(report.records.count)
        let files = AlertLogSet.discover(livePath: run.alertLog).existingPathsOldestFirst
        figures["files"] = Double(files.count)
        figures["log_bytes"] = Double(
            files.reduce(0) { $0 + ((try? FileManager.default.attributesOfItem(atPath: $1)[.size] as? Int) ?? 0) })
        figures["real_s"] = Double(report.realDuration.components.seconds)
        if let restart = report.restarts.first {
            figures["restart_down_ms"] = restart.down / .milliseconds(1)
            figures["restart_records_read"] = Double(restart.recordsRead ?? -1)
        }
        // Restore on the month's log as a start does it (newest checkpoint and what follows), against reading
        // every record of the month, which is what a restore without checkpoints would cost.
        var restore: [Double] = []
        var read = 0
        for _ in 0..<5 {
            let start = ContinuousClock.now
            let recovery = try LogRecovery.read(logAt: run.alertLog)
            restore.append((ContinuousClock.now - start) / .milliseconds(1))
            read = recovery.recordsRead
        }
        figures["restore_ms"] = restore.sorted()[restore.count / 2]
        figures["restore_records"] = Double(read)
        let start = ContinuousClock.now
        let all = try files.reduce(0) { $0 + (try AlertLine.lines(ofFile: $1)).count }
        figures["read_all_ms"] = (ContinuousClock.now - start) / .milliseconds(1)
        figures["read_all_records"] = Double(all)
        let body = figures.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        print("{\(body)}")
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A `/proc/self/status` figure in kB (VmRSS, VmHWM).
    static func memoryFigure(_ name: String) -> Double {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
        return line.flatMap { Double($0.split(separator: " ").dropFirst().first ?? "") } ?? .nan
    }
}

/// Memory figures taken while the scenario runs, and the task taking them.
private final class Samples: Sendable {
    private let state = Mutex<(figures: [String: Double], task: Task<Void, Never>?)>(([:], nil))

    func start(_ task: Task<Void, Never>) { state.withLock { $0.task = task } }
    func record(_ name: String, _ value: Double) { state.withLock { $0.figures[name] = value } }
    func stop() { state.withLock { $0.task?.cancel() } }
    var figures: [String: Double] { state.withLock { $0.figures } }
}

extension Orchestrator {
    func monthSection() throws -> String {
        let figures = try parseFigures(
            // About three minutes of real time (30 days at 14,400x), more on a busy machine.
            try Child.output(
                [me, "month", "--root", FileManager.default.currentDirectoryPath, "--dir", work + "/month"], timeout: 900))
        func f(_ key: String) -> Double { figures[key] ?? .nan }
        let growth = (f("rss_day29_kb") / f("rss_day1_kb") - 1) * 100
        let met = abs(growth) <= 10
        log("month: RSS day 1 \(Int(f("rss_day1_kb"))) kB, day 29 \(Int(f("rss_day29_kb"))) kB; restore \(format(f("restore_ms"), 1)) ms")
        return """
            ## A quiet month: memory and restore (`long-quiet-month`)

            The `long-quiet-month` scenario — 30 days of flapping devices on the example site, no fire — run once at
            14,400x (\(format(f("real_s"), 0)) s of real time) in one `fw-bench month` process holding the simulator and
            the real daemon, the alert log rotated at 128 KiB with every file kept. Resident memory is that process's
            `VmRSS` (simulator included); the restart on day 29 and a restore timed afterwards read the log as a
            start does: the newest `state.checkpoint` and what follows it.

            | figure | value |
            | --- | ---: |
            | records written in 30 days | \(format(f("records"), 0)) in \(format(f("files"), 0)) files, \(format(f("log_bytes") / 1_048_576, 1)) MiB |
            | RSS on day 1 | \(format(f("rss_day1_kb") / 1024, 1)) MiB |
            | RSS on day 15 | \(format(f("rss_day15_kb") / 1024, 1)) MiB |
            | RSS on day 29, before the restart | \(format(f("rss_day29_kb") / 1024, 1)) MiB (\(growth >= 0 ? "+" : "")\(format(growth, 1)) % on day 1; goal within 10 %: **\(met ? "met" : "missed")**) |
            | RSS on day 30, after the in-process restart (a second daemon in the same heap) | \(format(f("rss_restarted_kb") / 1024, 1)) MiB |
            | peak RSS | \(format(f("rss_peak_kb") / 1024, 1)) MiB |
            | restart on day 29: daemon down (stop, read back, restore) | \(format(f("restart_down_ms"), 0)) ms, \(format(f("restart_records_read"), 0)) records read |
            | restore from the month's log (median of 5) | \(format(f("restore_ms"), 1)) ms, \(format(f("restore_records"), 0)) records folded after the checkpoint |
            | reading every line of the month instead | \(format(f("read_all_ms"), 1)) ms for \(format(f("read_all_records"), 0)) lines |

            """
    }
}

import AlertLog
import Foundation
import Gateway
import Logging

/// `fw-bench alertlog --dir D --seconds S`: records appended per second by `AlertLogWriter` (hash-chained,
/// one write and one fsync per record) to a fresh file in D, on the machine's disk.
/// Prints `{"records":…,"wall_s":…,"cpu_s":…}`.
enum AlertLogBench {
    static func run(_ options: Options) throws {
        let directory = options.string("dir")
        let seconds = options.double("seconds", 2)
        let path = directory + "/alerts-bench.jsonl"
        for suffix in ["", ".1"] { try? FileManager.default.removeItem(atPath: path + suffix) }
        let writer = AlertLogWriter(
            configuration: AlertLogConfiguration(path: path, maxBytes: 1 << 30, site: "bench"),
            logger: Logger(label: "bench"))
        // A typical decision record: what the daemon writes before it isolates a zone.
        func record(_ index: Int) -> [JSONMember] {
            [
                JSONMember("time", .string("2026-11-24T03:12:09.125Z")),
                JSONMember("site", .string("bench")),
                JSONMember("zone", .string("battery-room-\(index % 100)")),
                JSONMember("severity", .string("alarm")),
                JSONMember("event", .string("step.started")),
                JSONMember("procedure", .string("isolate")),
                JSONMember("step", .int(1)),
                JSONMember("device", .string("bms-\(index % 100)")),
                JSONMember("command", .string("disconnect_string")),
                JSONMember("message", .string("opening battery string of battery-room-\(index % 100)")),
            ]
        }
        for index in 0..<20 { _ = writer.append(record(index)) }
        let start = ProcessSample.now()
        let deadline = start.wall + seconds
        var records = 0
        while ProcessSample.now().wall < deadline {
            guard writer.append(record(records)).isDurable else { die("alert log append was not durable") }
            records += 1
        }
        let end = ProcessSample.now()
        writer.close()
        try? FileManager.default.removeItem(atPath: path)
        print("{\"records\":\(records),\"wall_s\":\(end.wall - start.wall),\"cpu_s\":\(end.cpu - start.cpu)}")
    }
}

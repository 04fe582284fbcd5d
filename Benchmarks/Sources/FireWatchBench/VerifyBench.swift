import AlertLog
import Foundation

/// `fw-bench biglog --path P --records N`: writes a hash-chained alert log of N typical records, the input of
/// the verify section. It is written as the writer chains it (`JSONWriter`, `sha256Hex` of the line before)
/// but buffered and without fsync: how fast it is made is not a figure. Prints `{"records":…,"bytes":…}`.
enum BigLog {
    static func run(_ options: Options) throws {
        let path = options.string("path")
        let count = options.int("records", 1_000_000)
        guard FileManager.default.createFile(atPath: path, contents: nil), let out = FileHandle(forWritingAtPath: path)
        else { throw BenchError("cannot create \(path)") }
        defer { try? out.close() }
        var prev = AlertLogWriter.genesisHash
        var buffer: [UInt8] = []
        buffer.reserveCapacity(1 << 20)
        var bytes = 0
        for index in 0..<count {
            let room = "battery-room-\(index % 100)"
            let millis = AlertTime.parse("2026-11-01T00:00:00.000Z")! + Int64(index) * 250
            let members: [JSONMember] = [
                JSONMember("seq", .int(index + 1)), JSONMember("time", .string(AlertTime.formatUTC(millis))),
                JSONMember("site", .string("bench")), JSONMember("zone", .string(room)),
                JSONMember("severity", .string(index % 7 == 0 ? "alarm" : "info")),
                JSONMember("event", .string(index % 7 == 0 ? "step.started" : "signal.level")),
                JSONMember("step", .int(index % 5 + 1)),
                JSONMember("device", .string("bms-\(index % 100)")), JSONMember("command", .string("disconnect_string")),
                JSONMember("message", .string("opening string \(index % 12 + 1) of \(room) — off-gas")),
                JSONMember("prev", .string(prev)),
            ]
            let line = Array(JSONWriter.serialize(.object(members)).utf8)
            prev = AlertLogWriter.sha256Hex(line)
            buffer += line
            buffer.append(0x0A)
            bytes += line.count + 1
            if buffer.count >= 1 << 20 {
                out.write(Data(buffer))
                buffer.removeAll(keepingCapacity: true)
            }
        }
        out.write(Data(buffer))
        print("{\"records\":\(count),\"bytes\":\(bytes)}")
    }
}

extension Orchestrator {
    /// `firewatch alerts verify` on a generated million-record log, beside `sha256sum` of the same file (the
    /// limit: every byte must be hashed) and the plain Python check; and `alerts -n 20` on it.
    func verifySection() throws -> String {
        let path = work + "/verify-1m.jsonl"
        let made = try parseFigures(
            try Child.output([me, "biglog", "--path", path, "--records", "1000000"], timeout: 1200))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let firewatch = options.string("firewatch")
        let script = FileManager.default.currentDirectoryPath + "/Benchmarks/Python/verify_chain.py"
        let sha256sum = ["/usr/bin/sha256sum", path]
        let verify = [firewatch, "alerts", "verify", "--log", path]
        _ = try timed(sha256sum)  // the file is read from the page cache in every run below, not from the disk
        var sums: [Double] = []
        var verifies: [Double] = []
        for rep in 1...reps {
            sums.append(try timed(sha256sum))
            verifies.append(try timed(verify))
            log("verify rep \(rep)/\(reps): sha256sum \(format(sums.last!, 2)) s, verify \(format(verifies.last!, 2)) s")
        }
        let pythons = try (1...3).map { _ in try timed([options.string("python"), script, path]) }
        let tails = try (1...20).map { _ in try timed([firewatch, "alerts", "--log", path, "-n", "20"]) * 1000 }
        let ratio = Spread(verifies).median / Spread(sums).median
        let python = Spread(pythons).median / Spread(verifies).median
        let tail = Spread(tails)
        log("verify: \(format(ratio, 2))x sha256sum; -n 20 \(format(tail.median, 1)) ms")
        return """
            ## Alert log: `alerts verify` on a million records

            A hash-chained log of \(grouped(made["records"] ?? .nan)) typical records \
            (\(format((made["bytes"] ?? .nan) / 1_048_576, 0)) MiB, made by `fw-bench biglog`), read from the page \
            cache (warmed by one unmeasured `sha256sum`). Wall time of whole commands: \(reps) runs each, alternating \
            `sha256sum` and `firewatch alerts verify`; 3 of the Python check, 20 of `-n 20`. `sha256sum` is the \
            limit, since verify must hash every byte too. The Python check is `Benchmarks/Python/verify_chain.py`: \
            `json.loads` and `hashlib.sha256` per line.

            | command | wall, median (min–max) |
            | --- | ---: |
            | `sha256sum` of the file | \(Spread(sums).text(2)) s |
            | `firewatch alerts verify` | \(Spread(verifies).text(2)) s: \(format(ratio, 2))× `sha256sum` (goal ≤ 2×: \(verdict(ratio <= 2))) |
            | Python, `json.loads` + `hashlib.sha256` per line | \(Spread(pythons).text(2)) s (\(format(python, 1))× verify's time) |
            | `firewatch alerts -n 20` | \(tail.text(1)) ms (goal ≤ 50 ms: \(verdict(tail.median <= 50))) |

            """
    }

    /// Wall seconds of one whole run of `argv` (its output is read and dropped).
    func timed(_ argv: [String]) throws -> Double {
        let start = monotonicSeconds()
        _ = try Child.output(argv, timeout: 600)
        return monotonicSeconds() - start
    }
}

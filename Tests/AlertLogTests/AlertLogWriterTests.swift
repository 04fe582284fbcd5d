import Foundation
import Logging
import Testing

@testable import AlertLog
import FireWatchTesting

@Suite("Alert log writer")
struct AlertLogWriterTests {
    let logger = Logger(label: "test.alert-log")
    static let fixedTime: @Sendable () -> Date = { Date(timeIntervalSince1970: 1_795_000_000.125) }

    func config(_ path: String, maxBytes: Int = 1 << 20, keep: Int = 3, backlogLimit: Int = 1000)
        -> AlertLogConfiguration
    {
        AlertLogConfiguration(
            path: path, maxBytes: maxBytes, keep: keep, backlogLimit: backlogLimit, site: "test-site",
            now: Self.fixedTime)
    }

    /// Writes `numbers` as records with a writer of its own on `path`, and closes it.
    func writeRecords(_ numbers: ClosedRange<Int>, to path: String) {
        let writer = AlertLogWriter(configuration: config(path), logger: logger)
        for n in numbers { writer.append(record(n)) }
        writer.close()
    }

    func record(_ n: Int, event: String = "signal.level") -> [JSONMember] {
        [
            JSONMember("time", "2026-11-24T03:12:09.125Z"), JSONMember("site", "test-site"),
            JSONMember("zone", "battery-room-a"), JSONMember("severity", "alert"), JSONMember("event", .string(event)),
            JSONMember("n", .int(n)), JSONMember("message", "record number \(n)"),
        ]
    }

    @Test("seq rises from 1, prev chains from 64 zeros, and lines are on disk when append returns")
    func chainAcrossAppends() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        let writer = AlertLogWriter(configuration: config(path), logger: logger)
        for n in 1...50 {
            #expect(writer.append(record(n)) == .durable(seq: n))
            // Read through a separate handle right after append returned.
            let lines = try AlertLine.lines(ofFile: path)
            #expect(lines.count == n)
        }
        let lines = try AlertLine.lines(ofFile: path)
        #expect(lines.first?.prev == AlertLogWriter.genesisHash)
        #expect(lines.map { $0.seq } == Array(1...50))
        #expect(lines.map { $0.fields?["n"]?.intValue } == Array(1...50))
        for i in 1..<lines.count { #expect(lines[i].prev == lines[i - 1].hash) }
        #expect(intactRecords(logAt: path) == (50))
        // seq is the first member and prev the last, as in CONTRACT.md.
        #expect(lines[0].text.hasPrefix("{\"seq\":1,\"time\":"))
        #expect(lines[0].text.hasSuffix(",\"prev\":\"\(AlertLogWriter.genesisHash)\"}"))
        #expect(!writer.isDegraded)
    }

    @Test("the writer owns seq and prev: members with those names are dropped")
    func seqAndPrevAreTheWriters() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        let writer = AlertLogWriter(configuration: config(path), logger: logger)
        writer.append([JSONMember("seq", 99), JSONMember("event", "daemon.started"), JSONMember("prev", "x")])
        let line = try #require(try AlertLine.lines(ofFile: path).first)
        #expect(line.text == "{\"seq\":1,\"event\":\"daemon.started\",\"prev\":\"\(AlertLogWriter.genesisHash)\"}")
    }

    @Test("text with quotes, newlines, control characters and °C survives the log byte for byte")
    func escapingThroughTheLog() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        let writer = AlertLogWriter(configuration: config(path), logger: logger)
        let message = "temperature \"A1\" at 71.5 °C\nline two\ttab \u{07}bell \\ backslash ✓"
        writer.append([
            JSONMember("event", "signal.level"), JSONMember("message", .string(message)), JSONMember("value", 71.5),
        ])
        let lines = try AlertLine.lines(ofFile: path)
        #expect(lines.count == 1)
        #expect(lines[0].fields?["message"]?.stringValue == message)
        #expect(lines[0].fields?["value"] == .number(71.5))
        #expect(lines[0].text.contains(#"\"A1\" at 71.5 °C\nline two\ttab \u0007bell \\ backslash ✓"#))
    }

    @Test("a log cut at any byte (a crash at any point) reopens into a valid chain")
    func cutAnywhere() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let source = dir.file("source.jsonl")
        writeRecords(1...4, to: source)
        let bytes = try #require(FileManager.default.contents(atPath: source))
        // Every offset across the last two lines, and a spread of earlier ones: bounded, about 60 cases.
        let lastTwo =
            bytes.count - (try AlertLine.lines(ofFile: source).suffix(2).reduce(0) { $0 + $1.text.utf8.count + 1 })
        let offsets =
            Array(stride(from: 0, to: lastTwo, by: 97)) + Array(stride(from: lastTwo, through: bytes.count, by: 11))
        for offset in offsets {
            let path = dir.file("cut-\(offset).jsonl")
            #expect(FileManager.default.createFile(atPath: path, contents: bytes.prefix(offset)))
            let writer = AlertLogWriter(configuration: config(path), logger: logger)
            #expect(writer.append(record(99)).isDurable, "offset \(offset)")
            writer.close()
            let lines = try AlertLine.lines(ofFile: path)
            #expect(intactRecords(logAt: path) == (lines.count), "offset \(offset)")
            #expect(lines.last?.fields?["n"]?.intValue == 99)
            #expect(lines.first?.prev == AlertLogWriter.genesisHash)
        }
    }

    @Test("a reopened log continues seq and chain")
    func reopenContinues() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        writeRecords(1...3, to: path)
        let writer = AlertLogWriter(configuration: config(path), logger: logger)
        #expect(writer.nextSeq == 4)
        #expect(writer.append(record(4)) == .durable(seq: 4))
        #expect(intactRecords(logAt: path) == (4))
    }

    @Test("rotation keeps the chain, starts each file with log.rotated and deletes files beyond keep")
    func rotation() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        let writer = AlertLogWriter(configuration: config(path, maxBytes: 1000, keep: 3), logger: logger)
        for n in 1...60 { #expect(writer.append(record(n)).isDurable) }
        let files = AlertLogSet.discover(livePath: path).existingPathsOldestFirst
        #expect(files == [path + ".3", path + ".2", path + ".1", path])
        #expect(!FileManager.default.fileExists(atPath: path + ".4"))
        for file in files {
            let size = try #require(try FileManager.default.attributesOfItem(atPath: file)[.size] as? Int)
            #expect(size <= 1000)
        }
        for file in files.dropFirst() {
            let first = try #require(try AlertLine.lines(ofFile: file).first)
            #expect(first.event == "log.rotated")
            #expect(first.fields?["severity"] == "info")
        }
        guard let count = intactRecords(logAt: path) else {
            Issue.record("chain broken: \(chainReport(logAt: path).report)")
            return
        }
        let records = try AlertLogSet.discover(livePath: path).readLines()
        #expect(count == records.count)
        // The newest user record is the last line; nothing after it.
        #expect(records.last?.fields?["n"]?.intValue == 60)

        // Reopen after rotation continues in the live file.
        writer.close()
        let again = AlertLogWriter(configuration: config(path, maxBytes: 1000, keep: 3), logger: logger)
        #expect(again.append(record(61)).isDurable)
        #expect(intactRecords(logAt: path) == (count + 1))
    }

    @Test("a max_bytes smaller than one line still makes progress: one record per file after its header")
    func tinyMaxBytes() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        let writer = AlertLogWriter(configuration: config(path, maxBytes: 10, keep: 2), logger: logger)
        for n in 1...5 { #expect(writer.append(record(n)).isDurable) }
        let live = try AlertLine.lines(ofFile: path)
        #expect(live.map(\.event) == ["log.rotated", "signal.level"])
        #expect(live.last?.fields?["n"]?.intValue == 5)
        #expect(AlertLogSet.discover(livePath: path).existingPathsOldestFirst.count == 3)
        guard intactRecords(logAt: path) != nil else {
            Issue.record("chain broken: \(chainReport(logAt: path).report)")
            return
        }
    }

    @Test("a crash between rotation steps (live file missing, .1 present) chains to .1 with log.rotated")
    func crashDuringRotation() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        writeRecords(1...3, to: path)
        try FileManager.default.moveItem(atPath: path, toPath: path + ".1")
        let writer = AlertLogWriter(configuration: config(path), logger: logger)
        #expect(writer.append(record(4)) == .durable(seq: 5))
        let live = try AlertLine.lines(ofFile: path)
        #expect(live.map(\.event) == ["log.rotated", "signal.level"])
        #expect(intactRecords(logAt: path) == (5))
    }

    @Test("a torn last line is cut from the chain and quoted in a log.truncated record")
    func tornLastLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        writeRecords(1...3, to: path)
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        handle.write(Data("{\"seq\":4,\"time\":\"2026-11-24T03:1".utf8))
        handle.closeFile()
        // The verifier skips a torn last line (the writer may be mid-write) and says so.
        let torn = chainReport(logAt: path)
        #expect(torn.report == .intact(records: 3, files: 1, anchor: "anchored at the start of the log (\(path):1, prev all zeros)"))
        #expect(torn.warnings == ["warning: \(path):4: last line has no newline (the writer may be mid-write); not checked"])

        let writer = AlertLogWriter(configuration: config(path), logger: logger)
        #expect(writer.append(record(4)) == .durable(seq: 5))
        let lines = try AlertLine.lines(ofFile: path)
        #expect(lines.map(\.seq) == [1, 2, 3, 4, 5])
        #expect(lines[3].event == "log.truncated")
        #expect(lines[3].fields?["severity"] == "trouble")
        #expect(lines[3].fields?["bytes"] == .int(32))
        #expect(lines[3].fields?["fragment"] == "{\"seq\":4,\"time\":\"2026-11-24T03:1")
        #expect(intactRecords(logAt: path) == (5))
    }

    @Test("disk full (/dev/full): records are held in order, then written and chained when the disk is back")
    func diskFullThenRecovery() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/dev/full")
        let writer = AlertLogWriter(configuration: config(path), logger: logger)
        for n in 1...3 { #expect(writer.append(record(n)) == .pending(backlog: n)) }
        #expect(writer.isDegraded)
        #expect(writer.backlogCount == 3)
        #expect(writer.status.isDegraded && writer.status.backlogCount == 3 && writer.status.nextSeq == 1)
        #expect(writer.lastError?.code == .write)
        #expect(writer.lastError?.errno == ENOSPC)
        #expect(!writer.retry())

        try FileManager.default.removeItem(atPath: path)
        #expect(writer.retry())
        #expect(!writer.isDegraded)
        #expect(writer.lastError == nil)
        let lines = try AlertLine.lines(ofFile: path)
        #expect(lines.map { $0.fields?["n"]?.intValue } == [1, 2, 3])
        #expect(intactRecords(logAt: path) == (3))
    }

    @Test("an outage in the middle of a log (rotation cannot rename): held records continue the same chain")
    func outageInTheMiddle() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        let fm = FileManager.default
        // A directory where the rotated file must go makes rename(2) fail with EISDIR once the file is full.
        try fm.createDirectory(atPath: path + ".1", withIntermediateDirectories: false)
        let writer = AlertLogWriter(configuration: config(path, maxBytes: 1000, keep: 1), logger: logger)
        var outcomes: [AppendOutcome] = []
        for n in 1...6 { outcomes.append(writer.append(record(n))) }
        let durable = outcomes.filter(\.isDurable).count
        #expect(durable >= 2 && durable < 6)
        #expect(outcomes.last == .pending(backlog: 6 - durable))
        #expect(writer.lastError?.code == .rotate)
        #expect(writer.lastError?.errno == EISDIR)

        try fm.removeItem(atPath: path + ".1")
        #expect(writer.append(record(7)).isDurable)
        let records = try AlertLogSet.discover(livePath: path).readLines()
        #expect(records.compactMap { $0.fields?["n"]?.intValue } == Array(1...7))
        #expect(records.filter { $0.event == "log.rotated" }.count >= 1)
        #expect(intactRecords(logAt: path) == (records.count))
    }

    @Test("a directory where the log should be: degraded from the start, recovers when it is moved")
    func unopenableThenRecovery() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        let writer = AlertLogWriter(configuration: config(path), logger: logger)
        #expect(writer.isDegraded)
        #expect(writer.lastError?.code == .open)
        #expect(writer.lastError?.errno == EISDIR)
        #expect(writer.append(record(1)) == .pending(backlog: 1))
        try FileManager.default.removeItem(atPath: path)
        #expect(writer.append(record(2)) == .durable(seq: 2))
        #expect(intactRecords(logAt: path) == (2))
    }

    @Test("a full backlog refuses new records and keeps the oldest")
    func backlogLimit() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: "/dev/full")
        let writer = AlertLogWriter(configuration: config(path, backlogLimit: 2), logger: logger)
        #expect(writer.append(record(1)) == .pending(backlog: 1))
        #expect(writer.append(record(2)) == .pending(backlog: 2))
        #expect(writer.append(record(3)) == .refused(backlog: 2))
        #expect(writer.refusedCount == 1)
        try FileManager.default.removeItem(atPath: path)
        #expect(writer.retry())
        #expect(try AlertLine.lines(ofFile: path).map { $0.fields?["n"]?.intValue } == [1, 2])
    }

    @Test("async append from many tasks writes every record once, in one unbroken chain")
    func asyncAppend() async throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        let writer = AlertLogWriter(configuration: config(path), logger: logger)
        await withTaskGroup(of: AppendOutcome.self) { group in
            for n in 1...40 { group.addTask { await writer.append(record(n)) } }
            for await outcome in group { #expect(outcome.isDurable) }
        }
        let ns = try AlertLine.lines(ofFile: path).compactMap { $0.fields?["n"]?.intValue }
        #expect(ns.sorted() == Array(1...40))
        #expect(intactRecords(logAt: path) == (40))
    }
}

@Suite("Alert log chain verification")
struct AlertLogVerifyTests {
    func writeLog(_ path: String, count: Int) {
        let writer = AlertLogWriter(configuration: AlertLogConfiguration(path: path), logger: Logger(label: "t"))
        for n in 1...count { writer.append([JSONMember("event", "signal.level"), JSONMember("n", .int(n))]) }
        writer.close()
    }

    func rewrite(_ path: String, _ change: (inout [String]) -> Void) throws {
        var lines = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
        change(&lines)
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
    }

    @Test("an edited line breaks the chain, and is named as altered when the line after it still chains on")
    func editedLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        writeLog(path, count: 5)
        try rewrite(path) { $0[1] = $0[1].replacingOccurrences(of: "\"n\":2", with: "\"n\":7") }
        guard case .broken(let at, let reason, let before) = chainReport(logAt: path).report else {
            Issue.record("edit not detected")
            return
        }
        // Line 3's prev no longer matches line 2, but line 4 still chains to line 3: line 2 is the edited one.
        #expect(at == AlertChainVerifier.Location(path: path, line: 2))
        #expect(before == 2)
        #expect(reason.hasPrefix("altered: its SHA-256 is not the prev recorded by \(path):3"), "\(reason)")
    }

    @Test("a deleted line shows as a seq gap, a swapped pair as out of order")
    func deletedAndSwapped() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        writeLog(path, count: 5)
        try rewrite(path) { $0.remove(at: 2) }
        #expect(
            chainReport(logAt: path).report
                == .broken(
                    at: AlertChainVerifier.Location(path: path, line: 3),
                    reason: "missing: seq jumps from 2 to 4 (1 record deleted before this line) and prev does not"
                        + " match \(path):2", recordsBefore: 2))

        let other = dir.file("other.jsonl")
        writeLog(other, count: 5)
        try rewrite(other) { $0.swapAt(1, 2) }
        #expect(
            chainReport(logAt: other).report
                == .broken(
                    at: AlertChainVerifier.Location(path: other, line: 2),
                    reason: "reordered: seq 3 where 2 was expected, and the next line has seq 2 (this line and"
                        + " \(other):3 are swapped)", recordsBefore: 1))
    }

    @Test("a line that is not JSON is reported as not a record")
    func garbageLine() throws {
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let path = dir.file("alerts.jsonl")
        writeLog(path, count: 3)
        try rewrite(path) { $0.insert("hello", at: 1) }
        #expect(
            chainReport(logAt: path).report
                == .broken(
                    at: AlertChainVerifier.Location(path: path, line: 2), reason: "not a JSON object",
                    recordsBefore: 1))
    }
}

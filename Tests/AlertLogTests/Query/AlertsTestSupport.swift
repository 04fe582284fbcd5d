import Foundation
import Synchronization
import Testing

@testable import AlertLog

/// A valid, chained alert log written to a fresh temporary folder, optionally rotated logrotate-style:
/// `alerts.jsonl.k` (oldest) … `alerts.jsonl.1`, then `alerts.jsonl`. Hashes are computed here with
/// swift-crypto, independently of the reader, exactly as the contract says: SHA-256 of the line's bytes.
struct AlertLogFixture {
    static let zones = ["room-a", "room-b", "room-c"]
    static let severities = ["info", "info", "trouble", "alert", "alarm", "fire"]
    static let events = ["signal.level", "step.started", "step.succeeded", "device.comm_lost", "step.failed"]
    /// 2026-11-24T00:00:00Z
    static let startMillis: Int64 = 1_795_478_400_000

    let folder: URL
    /// Every line in write order, without `\n`.
    var lines: [[UInt8]] = []
    /// For each line: the file it is in and its 1-based line number there.
    var places: [(path: String, line: Int)] = []

    var livePath: String { folder.appendingPathComponent("alerts.jsonl").path }

    /// `count` records 1 s apart; with `perFile`, a new file starts every `perFile` records, and its first
    /// record is `log.rotated` chaining to the last line of the file before.
    init(count: Int, perFile: Int? = nil, firstPrev: String = String(repeating: "0", count: 64), firstSeq: Int = 1) {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        var prev = firstPrev
        var chunks: [[Int]] = [[]]
        for index in 0..<count {
            let rotated = perFile.map { index > 0 && index % $0 == 0 } ?? false
            if rotated { chunks.append([]) }
            let line = Self.record(index: index, seq: firstSeq + index, rotated: rotated, prev: prev)
            prev = Self.sha256Hex(line)
            lines.append(line)
            chunks[chunks.count - 1].append(index)
        }
        places = Array(repeating: ("", 0), count: count)
        for (chunkIndex, chunk) in chunks.enumerated() {
            let age = chunks.count - 1 - chunkIndex
            let path = age == 0 ? livePath : "\(livePath).\(age)"
            for (lineIndex, index) in chunk.enumerated() { places[index] = (path, lineIndex + 1) }
            writeFile(path, chunk.map { lines[$0] })
        }
    }

    func cleanUp() { try? FileManager.default.removeItem(at: folder) }

    /// The record for line `index`: zone, severity, event and device cycle so every filter has hits and misses.
    static func record(index: Int, seq: Int, rotated: Bool, prev: String) -> [UInt8] {
        let time = AlertTime.formatUTC(startMillis + Int64(index) * 1000)
        if rotated {
            return Array(
                (#"{"seq":\#(seq),"time":"\#(time)","site":"test-site","severity":"info","event":"log.rotated","#
                    + #""message":"log rotated","prev":"\#(prev)"}"#).utf8)
        }
        let zone = zones[index % zones.count]
        let severity = severities[index % severities.count]
        let stateChange = index % 10 == 0
        let event = stateChange ? "zone.state" : events[index % events.count]
        let states = ["normal", "alert", "isolating"]
        let transition =
            stateChange ? #""from":"\#(states[(index / 10) % 3])","to":"\#(states[(index / 10 + 1) % 3])","# : ""
        return Array(
            (#"{"seq":\#(seq),"time":"\#(time)","site":"test-site","zone":"\#(zone)","severity":"\#(severity)","#
                + #""event":"\#(event)",\#(transition)"device":"dev-\#(index % 4)","value":\#(index % 7),"#
                + #""message":"record \#(seq) in \#(zone)","prev":"\#(prev)"}"#).utf8)
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String { AlertLogWriter.sha256Hex(bytes) }

    func writeFile(_ path: String, _ lines: [[UInt8]], trailingNewline: Bool = true) {
        var data = Data()
        for (i, line) in lines.enumerated() {
            data.append(contentsOf: line)
            if trailingNewline || i < lines.count - 1 { data.append(0x0A) }
        }
        try! data.write(to: URL(fileURLWithPath: path))
    }

    /// Reads a file's lines back (without `\n`).
    static func fileLines(_ path: String) -> [[UInt8]] {
        let data = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        var result = data.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
        if result.last?.isEmpty == true { result.removeLast() }
        return result
    }

    /// Replaces the lines of one file.
    func rewrite(_ path: String, _ transform: (inout [[UInt8]]) -> Void) {
        var current = Self.fileLines(path)
        transform(&current)
        writeFile(path, current)
    }
}

/// Collects warnings in memory instead of stderr.
final class WarningLog: Sendable {
    private final class Store: Sendable {
        let lines = Mutex<[String]>([])
    }

    private let store: Store
    let warnings: AlertWarnings

    init() {
        let store = Store()
        self.store = store
        warnings = AlertWarnings(cap: 1000) { text in store.lines.withLock { $0.append(text) } }
    }

    var messages: [String] { store.lines.withLock { $0 } }
}

/// Runs a query in process and returns the matching lines' bytes.
func readLines(
    _ fixture: AlertLogFixture, _ query: AlertQuery, warnings: AlertWarnings = AlertWarnings { _ in }
) throws -> [[UInt8]] {
    let reader = try AlertReader(set: AlertLogSet.discover(livePath: fixture.livePath), warnings: warnings)
    var out: [[UInt8]] = []
    try reader.read(query) { out.append($0.bytes) }
    return out
}

/// The naive answer: parse every line of the fixture and filter.
func expectedLines(_ fixture: AlertLogFixture, _ query: AlertQuery) -> [[UInt8]] {
    var matches = fixture.lines.filter { bytes in
        let line = bytes.withUnsafeBytes { AlertLine.parse($0).0! }
        return query.admits(line)
    }
    if let limit = query.limit { matches = Array(matches.suffix(limit)) }
    return matches
}

import Foundation
import Simulator
import Testing

@testable import AlertLog

/// `ChainFieldScan` reads `seq` and `prev` for `alerts verify` without `AlertLine.parse`. It may decline a line
/// (then `parse` decides), but whatever it answers must be what `parse` would have said.
@Suite("Alert log: the chain-field scan agrees with the line parser")
struct ChainFieldScanTests {
    /// Lines as the daemon writes them: every value type, nesting, escapes and text past ASCII.
    static let written: [[UInt8]] = {
        let prev = String(repeating: "3f", count: 32)
        let records: [[JSONMember]] = [
            [
                JSONMember("seq", .int(1)), JSONMember("time", .string("2026-12-07T03:12:09.125Z")),
                JSONMember("site", .string("pangyo-b")), JSONMember("zone", .string("battery-room-1")),
                JSONMember("severity", .string("alarm")), JSONMember("event", .string("step.started")),
                JSONMember("step", .int(2)), JSONMember("value", .number(71.25)),
                JSONMember("message", .string("POLLING LATE: ups-a — 2.9 s late, 45 °C, \"quoted\" \\ tab\t")),
                JSONMember("prev", .string(prev)),
            ],
            [
                JSONMember("seq", .int(123_456_789_012)), JSONMember("time", .string("2026-12-07T03:12:10.000Z")),
                JSONMember("severity", .string("info")), JSONMember("event", .string("state.checkpoint")),
                JSONMember(
                    "state",
                    .object([
                        JSONMember("zones", .array([.string("a"), .int(-3), .number(-0.5), .bool(true), .null])),
                        JSONMember("nested", .object([JSONMember("deep", .array([.array([.object([])])]))])),
                        JSONMember("emoji", .string("🔥 fire 火災")),
                    ])),
                JSONMember("prev", .string(prev)),
            ],
            [JSONMember("seq", .int(7)), JSONMember("prev", .string(AlertLogWriter.genesisHash))],
        ]
        return records.map { Array(JSONWriter.serialize(.object($0)).utf8) }
    }()

    private func agrees(_ line: [UInt8]) -> (scanned: Bool, agrees: Bool) {
        line.withUnsafeBytes { raw in
            guard let fields = ChainFieldScan.scan(raw) else { return (false, true) }
            guard let parsed = AlertLine.parse(raw).0, parsed.isObject else { return (true, false) }
            let prev = fields.prev.map { String(decoding: line[$0], as: UTF8.self) }
            return (true, parsed.seq == fields.seq && parsed.prev == prev)
        }
    }

    @Test("every line the writer writes is read by the scan, with the parser's seq and prev")
    func writtenLines() {
        for line in Self.written {
            let (scanned, agrees) = agrees(line)
            #expect(scanned, "declined \(String(decoding: line, as: UTF8.self))")
            #expect(agrees, "disagrees on \(String(decoding: line, as: UTF8.self))")
        }
        let first = Self.written[1].withUnsafeBytes { ChainFieldScan.scan($0) }
        #expect(first?.seq == 123_456_789_012)
    }

    @Test(
        "lines that are not JSON objects, or whose chain fields are not plain, are left to the parser",
        arguments: [
            #"[1,2]"#, #""text""#, #"{"seq":1,}"#, #"{"seq":1"#, #"{"seq":01,"prev":"a"}"#, #"{"seq":1} x"#,
            #"{"seq":1.0,"prev":"a"}"#, #"{"seq":1e2}"#, #"{"seq":true}"#, #"{"seq":"1"}"#, #"{"seq":1,"seq":2}"#,
            #"{"prev":"a","prev":"b"}"#, #"{"prev":"\u0061"}"#, #"{"se\u0071":1}"#, #"{"prev":1}"#,
            #"{"m":"\ud83d\ude00"}"#, #"{"m":"\u0000"}"#, #"{"m":"\x"}"#, #"{"m":tru}"#, #"{"v":1e400}"#,
            #"{"seq":1234567890123456}"#, #"{"v":-}"#, #"{"v":1.}"#, #"{'seq':1}"#, "", " ",
            String(repeating: #"{"a":"#, count: 70) + "1" + String(repeating: "}", count: 70),
        ])
    func declined(_ text: String) {
        #expect(Array(text.utf8).withUnsafeBytes { ChainFieldScan.scan($0) } == nil)
    }

    @Test("malformed UTF-8 inside a string is left to the parser", arguments: [
        [0xC0, 0x80], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0x80], [0xFF], [0xC2, 0x41],
    ] as [[UInt8]])
    func badUTF8(_ bytes: [UInt8]) {
        let line = Array(#"{"seq":1,"message":""#.utf8) + bytes + Array(#""}"#.utf8)
        #expect(line.withUnsafeBytes { ChainFieldScan.scan($0) } == nil)
    }

    @Test("whitespace the grammar allows, an empty object and a negative seq are read as the parser reads them")
    func edges() {
        for text in [" { \"seq\" : -0 , \"prev\" : \"\" } ", "{}", "{\"seq\":-42}", "{\"a\":[],\"b\":{}}"] {
            let (scanned, agrees) = agrees(Array(text.utf8))
            #expect(scanned && agrees, "\(text)")
        }
    }

    @Test("over 20,000 damaged lines (bytes flipped, cut, doubled, dropped): the scan never disagrees with the parser")
    func damage() {
        var generator = SplitMix64(seed: 0xC4A1)
        var declinedCount = 0
        var scannedCount = 0
        for round in 0..<21_000 {
            var line = Self.written[round % Self.written.count]
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let at = Int.random(in: 0..<line.count, using: &generator)
                switch Int.random(in: 0..<4, using: &generator) {
                case 0: line[at] = UInt8.random(in: 0...255, using: &generator)
                case 1: line.remove(at: at)
                case 2: line.insert(line[at], at: at)
                default:
                    let structural: [UInt8] = Array(#"{}[]",:\0123456789.eE-+tfnu "#.utf8)
                    line[at] = structural.randomElement(using: &generator)!
                }
                if line.isEmpty { line = [0x7B] }
            }
            let (scanned, agrees) = agrees(line)
            #expect(agrees, "disagrees on \(String(decoding: line, as: UTF8.self))")
            if scanned { scannedCount += 1 } else { declinedCount += 1 }
        }
        // Both sides were exercised: some damage leaves valid JSON (a changed letter), most does not.
        #expect(scannedCount > 1000)
        #expect(declinedCount > 1000)
    }

    @Test("a chain hash reads only 64 lowercase hex digits and equals the line's SHA-256")
    func chainHash() {
        let line = Self.written[0]
        let hex = AlertLogWriter.sha256Hex(line)
        #expect(ChainHash(hex: hex) == ChainHash(sha256Of: line))
        #expect(ChainHash(hex: hex.uppercased()) == nil)
        #expect(ChainHash(hex: String(hex.dropLast())) == nil)
        #expect(ChainHash(hex: AlertLogWriter.genesisHash) == .genesis)
        #expect(ChainHash(hex: String(hex.dropLast()) + "g") == nil)
    }
}

import FireSafety
import Foundation
import Testing

@testable import AlertLog

@Suite("Alerts: reading and filtering")
struct AlertsReaderTests {
    @Test("times parse from RFC 3339 and print back in the log's form")
    func timeRoundTrip() {
        #expect(AlertTime.parse("2026-11-24T03:12:09.125Z") == 1_795_489_929_125)
        #expect(AlertTime.formatUTC(1_795_489_929_125) == "2026-11-24T03:12:09.125Z")
        #expect(AlertTime.parse("2026-11-24T05:12:09.125+02:00") == 1_795_489_929_125)
        #expect(AlertTime.parse("2026-11-24T03:12:09Z") == 1_795_489_929_000)
        #expect(AlertTime.parse("1969-12-31T23:59:59.500Z") == -500)
        #expect(AlertTime.formatUTC(-500) == "1969-12-31T23:59:59.500Z")
        for bad in [
            "", "yesterday", "2026-11-24", "2026-13-24T03:12:09Z", "2026-11-24T03:12:09", "2026-11-24T03:12:09.Z",
            // A damaged year past what nanoseconds in an Int64 hold (2262) was a crash; it is unusable instead.
            "9026-12-07T03:12:09.125Z", "2263-01-01T00:00:00Z", "0000-01-01T00:00:00-23:59",
        ] {
            #expect(AlertTime.parse(bad) == nil, "\(bad)")
        }
    }

    @Test("filters by zone, device, minimum severity and event glob, as a naive scan would")
    func filters() throws {
        let fixture = AlertLogFixture(count: 300, perFile: 70)
        defer { fixture.cleanUp() }
        let filters = [
            AlertFilter(zones: ["room-b"]),
            AlertFilter(zones: ["room-a", "room-c"]),
            AlertFilter(device: "dev-2"),
            AlertFilter(minSeverity: .alarm),
            AlertFilter(eventPattern: "step.*"),
            AlertFilter(eventPattern: "zone.stat?"),
            AlertFilter(zones: ["room-c"], device: "dev-1", minSeverity: .trouble, eventPattern: "step.*"),
            AlertFilter(zones: ["no-such-room"]),
        ]
        for filter in filters {
            let query = AlertQuery(filter: filter)
            let got = try readLines(fixture, query)
            #expect(got == expectedLines(fixture, query), "\(filter)")
        }
        #expect(try readLines(fixture, AlertQuery(filter: AlertFilter(zones: ["room-b"]))).count == 98)
        #expect(try readLines(fixture, AlertQuery()).count == 300)  // every file, log.rotated lines included
    }

    @Test("the byte prefilter never hides a match: names spelled with JSON escapes or spacing still match")
    func prefilterIsSafe() throws {
        let fixture = AlertLogFixture(count: 2)
        defer { fixture.cleanUp() }
        let odd = [
            #"{"seq":3,"time":"2026-11-24T00:00:02.000Z","zone":"room\u002db","severity":"fir\u0065","#
                + #""event":"step\u002estarted","device":"dev\u002d9","message":"escaped","prev":"x"}"#,
            #"{ "seq" : 4 , "time" : "2026-11-24T00:00:03.000Z" , "zone" : "room-b" , "severity" : "fire" ,"#
                + #" "event" : "step.failed" , "device" : "dev-9" , "message" : "spaced" , "prev" : "x" }"#,
        ]
        fixture.rewrite(fixture.livePath) { lines in lines += odd.map { Array($0.utf8) } }
        let filter = AlertFilter(zones: ["room-b"], device: "dev-9", minSeverity: .fire, eventPattern: "step.*")
        let got = try readLines(fixture, AlertQuery(filter: filter))
        #expect(got.map { String(decoding: $0, as: UTF8.self) } == odd)
        let classes = try readLines(fixture, AlertQuery(filter: AlertFilter(eventPattern: "[sz]*.s*")))
        #expect(classes.count == 3)  // zone.state (record 1), step.started (records 2 and 3)
    }

    @Test("-n takes the last records from the end, across rotated files, after filtering")
    func lastRecords() throws {
        let fixture = AlertLogFixture(count: 250, perFile: 40)
        defer { fixture.cleanUp() }
        for limit in [0, 1, 5, 10, 45, 130, 250, 1000] {
            for filter in [AlertFilter(), AlertFilter(zones: ["room-a"]), AlertFilter(minSeverity: .fire)] {
                let query = AlertQuery(filter: filter, limit: limit)
                #expect(try readLines(fixture, query) == expectedLines(fixture, query), "-n \(limit) \(filter)")
            }
        }
    }

    @Test("--since and --until seek by time in big files and skip old rotated files, matching a full scan")
    func timeWindows() throws {
        // ~1.3 MB per file, well past the 256 KiB the bisection stops at, so seeking really happens.
        let fixture = AlertLogFixture(count: 12_000, perFile: 5_000)
        defer { fixture.cleanUp() }
        let start = AlertLogFixture.startMillis
        let windows: [(Int64?, Int64?)] = [
            (start, nil), (start + 1_000, nil), (start + 4_999_000, nil), (start + 5_000_000, nil),
            (start + 11_999_000, nil), (start + 12_000_000, nil), (nil, start), (nil, start + 7_777_500),
            (start + 2_500_000, start + 2_500_000), (start + 4_000_000, start + 9_000_000), (start - 5, start - 1),
        ]
        for (since, until) in windows {
            for limit in [nil, 3] as [Int?] {
                let query = AlertQuery(filter: AlertFilter(zones: ["room-b"]), limit: limit, since: since, until: until)
                let got = try readLines(fixture, query)
                #expect(
                    got == expectedLines(fixture, query),
                    "since \(since ?? -1) until \(until ?? -1) -n \(limit ?? -1)"
                )
            }
        }
    }

    @Test("reading backwards and forwards see the same lines, including a torn last line")
    func backwardMatchesForward() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("alerts-bw-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let path = folder.appendingPathComponent("f").path
        let long = String(repeating: "x", count: 150_000)  // longer than one backward step
        for content in ["", "\n", "a\n", "a", "a\nb", "a\n\nb\n", "\(long)\nshort\n\(long)", "x\n\(long)\n"] {
            try Data(content.utf8).write(to: URL(fileURLWithPath: path))
            let file = try AlertLogFile(path: path)
            var forward: [(String, Int64, Bool)] = []
            file.forEachLine(from: 0, to: file.size()) { line, offset, terminated in
                forward.append((String(decoding: line, as: UTF8.self), offset, terminated))
                return true
            }
            var backward: [(String, Int64, Bool)] = []
            file.forEachLineBackward(to: file.size()) { line, offset, terminated in
                backward.append((String(decoding: line, as: UTF8.self), offset, terminated))
                return true
            }
            backward.reverse()
            #expect(forward.map(\.0) == backward.map(\.0), "\(content.prefix(20))")
            #expect(forward.map(\.1) == backward.map(\.1))
            #expect(forward.map(\.2) == backward.map(\.2))
            #expect(forward.map(\.0).joined(separator: "\n") + (forward.last?.2 == true ? "\n" : "") == content)
        }
    }

    @Test("the human line shows local time, severity, zone and message; colour only when asked")
    func humanFormat() throws {
        var line = AlertLine(bytes: [])
        line.time = 1_795_489_929_125
        line.severity = .alarm
        line.zone = "room-a"
        line.message = "off-gas detected\u{1B}[2J"
        let plain = AlertFormatter(colour: false).format(line)
        #expect(plain.hasSuffix("  ALARM    room-a  off-gas detected\\u{1b}[2J"))
        #expect(!plain.contains("\u{1B}"))
        #expect(plain.hasPrefix(AlertTime.formatLocal(1_795_489_929_125)))
        let coloured = AlertFormatter(colour: true).format(line)
        #expect(coloured.contains("\u{1B}[1;31mALARM  \u{1B}[0m"))
        #expect(!AlertFormatter.wantsColour(isTerminal: false, environment: [:]))
        #expect(!AlertFormatter.wantsColour(isTerminal: true, environment: ["NO_COLOR": "1"]))
        #expect(AlertFormatter.wantsColour(isTerminal: true, environment: ["NO_COLOR": ""]))
    }
}

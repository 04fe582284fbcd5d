import Foundation
import Testing

@testable import AlertLog

@Suite("Alerts: damaged input")
struct AlertsDamageTests {
    @Test("torn, non-JSON, empty, mistyped and unknown lines are warned about with file:line, never a crash")
    func damagedLines() throws {
        let fixture = AlertLogFixture(count: 12)
        defer { fixture.cleanUp() }
        var lines = AlertLogFixture.fileLines(fixture.livePath)
        lines.insert(Array("garbage }{".utf8), at: 2)  // line 3
        lines.insert([], at: 5)  // line 6
        lines.insert(
            Array(
                #"{"seq":"seven","time":"later","severity":"loud","event":"zone.exploded","zone":5,"extra":{"x":1}}"#
                    .utf8),
            at: 7)  // line 8
        lines.append(Array(#"{"seq":13,"time":"2026-11"#.utf8))  // torn last line (16)
        fixture.writeFile(fixture.livePath, lines, trailingNewline: false)

        let log = WarningLog()
        let got = try readLines(fixture, AlertQuery(), warnings: log.warnings)
        #expect(got.count == 13)  // every good record, and the mistyped one: no window asked, so it is shown
        let windowed = try readLines(fixture, AlertQuery(since: AlertLogFixture.startMillis))
        #expect(windowed.count == 12)  // with a window, a record without a usable time has no place in it
        let messages = log.messages
        let path = fixture.livePath
        #expect(messages.contains("warning: \(path):3: not a JSON object; skipped"))
        #expect(messages.contains { $0.hasPrefix("warning: \(path):6:") })
        #expect(messages.contains("warning: \(path):8: field `seq` is not an integer; ignored"))
        #expect(messages.contains { $0.hasPrefix("warning: \(path):8: field `time` has an unusable value") })
        #expect(messages.contains { $0.hasPrefix("warning: \(path):8: field `severity`") })
        #expect(messages.contains("warning: \(path):8: field `zone` is not a string; ignored"))
        #expect(messages.contains { $0.contains(":8: unknown event `zone.exploded`") })
        #expect(messages.contains { $0.contains(":8: unknown field `extra`") })
        #expect(messages.contains { $0.hasPrefix("warning: \(path):16:") && $0.contains("without a newline") })

        // Reading backwards (-n) finds the same damage by line number.
        let back = WarningLog()
        let last = try readLines(fixture, AlertQuery(limit: 100), warnings: back.warnings)
        #expect(last == got)
        #expect(back.messages.contains("warning: \(path):3: not a JSON object; skipped"))
    }

    @Test("unknown events and fields are warned about once per name, and records still show")
    func unknownOnce() throws {
        let fixture = AlertLogFixture(count: 3)
        defer { fixture.cleanUp() }
        var lines = AlertLogFixture.fileLines(fixture.livePath)
        for seq in 4...8 {
            lines.append(
                Array(
                    (#"{"seq":\#(seq),"time":"2026-11-24T01:00:00.000Z","site":"s","zone":"room-a","severity":"info","#
                        + #""event":"future.thing","colour":"blue","message":"m","prev":"x"}"#).utf8))
        }
        fixture.writeFile(fixture.livePath, lines)
        let log = WarningLog()
        let got = try readLines(fixture, AlertQuery(filter: AlertFilter(zones: ["room-a"])), warnings: log.warnings)
        #expect(got.count == 6)
        #expect(log.messages.filter { $0.contains("future.thing") }.count == 1)
        #expect(log.messages.filter { $0.contains("`colour`") }.count == 1)
        // The unknown field is still in the bytes --json passes through.
        #expect(String(decoding: got.last!, as: UTF8.self).contains(#""colour":"blue""#))
    }

    @Test("per-line warnings stop at the cap and the rest are counted")
    func warningCap() {
        let seen = WarningLog()
        let warnings = AlertWarnings(cap: 3) { text in seen.warnings.note(text) }
        for _ in 0..<10 { warnings.report(AlertLineProblem(kind: .notJSON), at: { "f:1" }) }
        warnings.finish()
        #expect(seen.messages.count == 4)
        #expect(seen.messages.last == "warning: 7 more damaged line(s) not shown")
    }
}

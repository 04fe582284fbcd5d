import Foundation
import Testing

@testable import AlertLog

@Suite("Alerts: verify the hash chain")
struct AlertsVerifyTests {
    private func verify(_ fixture: AlertLogFixture) throws -> AlertChainVerifier.Report {
        try AlertChainVerifier.verify(AlertLogSet.discover(livePath: fixture.livePath), warnings: WarningLog().warnings)
    }

    private func brokenAt(_ report: AlertChainVerifier.Report) -> (String, Int, String)? {
        if case .broken(let location, let reason, _) = report { return (location.path, location.line, reason) }
        return nil
    }

    @Test("an intact log across rotated files verifies and counts every record")
    func intact() throws {
        let fixture = AlertLogFixture(count: 200, perFile: 60)
        defer { fixture.cleanUp() }
        let report = try verify(fixture)
        guard case .intact(let records, let files, let anchor) = report else {
            Issue.record("expected intact, got \(report)")
            return
        }
        #expect(records == 200)
        #expect(files == 4)
        #expect(anchor.contains("start of the log"))
    }

    @Test("when older files were deleted the oldest kept line is the anchor, and verify says so")
    func anchorAfterPruning() throws {
        let fixture = AlertLogFixture(
            count: 50, perFile: 20, firstPrev: String(repeating: "ab", count: 32), firstSeq: 9001)
        defer { fixture.cleanUp() }
        guard case .intact(let records, _, let anchor) = try verify(fixture) else {
            Issue.record("expected intact")
            return
        }
        #expect(records == 50)
        #expect(anchor.contains("alerts.jsonl.2:1"))
        #expect(anchor.contains("older files were deleted"))
    }

    @Test("a flipped byte in a record names that record")
    func flippedByte() throws {
        let fixture = AlertLogFixture(count: 30)
        defer { fixture.cleanUp() }
        fixture.rewrite(fixture.livePath) { lines in
            let at = lines[11].firstIndex(of: UInt8(ascii: "d"))!  // inside "record 12 in …" / "device"
            lines[11][at] = UInt8(ascii: "D")
        }
        let broken = brokenAt(try verify(fixture))
        #expect(broken?.1 == 12)
        #expect(broken?.2.contains("altered") == true)
    }

    @Test("a flipped byte in a prev names the line holding it")
    func flippedPrev() throws {
        let fixture = AlertLogFixture(count: 30)
        defer { fixture.cleanUp() }
        fixture.rewrite(fixture.livePath) { lines in
            let at = lines[20].count - 5  // inside the prev hex digits
            lines[20][at] = lines[20][at] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        }
        let broken = brokenAt(try verify(fixture))
        #expect(broken?.1 == 21)
        #expect(broken?.2.contains("prev does not match") == true)
    }

    @Test("a deleted line is named by the line after the gap")
    func deletedLine() throws {
        let fixture = AlertLogFixture(count: 30)
        defer { fixture.cleanUp() }
        fixture.rewrite(fixture.livePath) { lines in lines.remove(at: 14) }  // seq 15 gone
        let broken = brokenAt(try verify(fixture))
        #expect(broken?.1 == 15)  // now holds seq 16
        #expect(broken?.2.contains("missing") == true)
        #expect(broken?.2.contains("1 record deleted") == true)
    }

    @Test("a swapped pair is named as reordered at its first line")
    func swappedPair() throws {
        let fixture = AlertLogFixture(count: 30)
        defer { fixture.cleanUp() }
        fixture.rewrite(fixture.livePath) { lines in lines.swapAt(7, 8) }
        let broken = brokenAt(try verify(fixture))
        #expect(broken?.1 == 8)
        #expect(broken?.2.contains("reordered") == true)
        #expect(broken?.2.contains("alerts.jsonl:9") == true)
    }

    @Test("a chain broken across rotated files names the rotated file's line")
    func brokenAcrossRotation() throws {
        let fixture = AlertLogFixture(count: 90, perFile: 30)
        defer { fixture.cleanUp() }
        // Change the last line of alerts.jsonl.1: the live file's first line no longer chains to it.
        let rotated = fixture.livePath + ".1"
        fixture.rewrite(rotated) { lines in
            let last = lines.count - 1
            let at = lines[last].firstIndex(of: UInt8(ascii: "r"))!
            lines[last][at] = UInt8(ascii: "R")
        }
        let broken = brokenAt(try verify(fixture))
        #expect(broken?.0 == rotated)
        #expect(broken?.1 == 30)
        #expect(broken?.2.contains("alerts.jsonl:1") == true)
    }

    @Test("a rotated file that lost its last line shows as missing at the live file's first line")
    func missingAcrossRotation() throws {
        let fixture = AlertLogFixture(count: 90, perFile: 30)
        defer { fixture.cleanUp() }
        fixture.rewrite(fixture.livePath + ".1") { lines in lines.removeLast() }
        let broken = brokenAt(try verify(fixture))
        #expect(broken?.0 == fixture.livePath)
        #expect(broken?.1 == 1)
        #expect(broken?.2.contains("missing") == true)
    }

    @Test("a non-JSON line is named; a torn last line is only warned about")
    func damaged() throws {
        let fixture = AlertLogFixture(count: 20)
        defer { fixture.cleanUp() }
        var lines = AlertLogFixture.fileLines(fixture.livePath)
        lines.append(Array(#"{"seq":21,"time":"2026-11-24T00:00:2"#.utf8))  // torn: no newline
        fixture.writeFile(fixture.livePath, lines, trailingNewline: false)
        let log = WarningLog()
        let report = try AlertChainVerifier.verify(
            AlertLogSet.discover(livePath: fixture.livePath), warnings: log.warnings)
        guard case .intact(let records, _, _) = report else {
            Issue.record("expected intact, got \(report)")
            return
        }
        #expect(records == 20)
        #expect(log.messages.contains { $0.contains("alerts.jsonl:21") && $0.contains("no newline") })

        fixture.rewrite(fixture.livePath) { lines in lines[4] = Array("not json at all".utf8) }
        let broken = brokenAt(try verify(fixture))
        #expect(broken?.1 == 5)
        #expect(broken?.2.contains("not a JSON object") == true)
    }

    @Test("lines the fast scan leaves to the parser (a seq written 21.0, spaces, an escaped key) are judged by it")
    func unusualButValid() throws {
        let fixture = AlertLogFixture(count: 20)
        defer { fixture.cleanUp() }
        var lines = AlertLogFixture.fileLines(fixture.livePath)
        let prev = AlertLogFixture.sha256Hex(lines[19])
        lines.append(Array(#"{ "seq" : 21.0, "ev\u0065nt": "x", "prev" : "\#(prev)" }"#.utf8))
        fixture.writeFile(fixture.livePath, lines)
        #expect(try verify(fixture) == .intact(records: 21, files: 1, anchor: "anchored at the start of the log"
            + " (\(fixture.livePath):1, prev all zeros)"))

        // The same line with an uppercase prev is not a hash, whoever reads it.
        lines[20] = Array(#"{ "seq" : 21.0, "prev" : "\#(prev.uppercased())" }"#.utf8)
        fixture.writeFile(fixture.livePath, lines)
        let broken = brokenAt(try verify(fixture))
        #expect(broken?.1 == 21)
        #expect(broken?.2.contains("not 64 lowercase hex digits") == true)
    }

    @Test("an empty log (a fresh daemon) is intact with nothing to check")
    func emptyLog() throws {
        let fixture = AlertLogFixture(count: 0)
        defer { fixture.cleanUp() }
        let report = try verify(fixture)
        #expect(report == .intact(records: 0, files: 1, anchor: "empty: no complete record yet"))
    }

    @Test("a missing log is reported as such, naming the path")
    func missingLog() {
        let set = AlertLogSet(livePath: "/nonexistent/alerts.jsonl", rotatedPaths: [])
        let error = #expect(throws: AlertReadError.self) {
            try AlertChainVerifier.verify(set, warnings: WarningLog().warnings)
        }
        #expect(error?.exitCode == 66)
        #expect(error?.message.contains("/nonexistent/alerts.jsonl") == true)
    }
}

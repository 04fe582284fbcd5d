import Foundation
import Testing

@testable import Gateway
import FireWatchTesting

/// deploy/firewatch.service, found from this file's place in the repository.
private let unitPath = Repository.file("deploy/firewatch.service")

private let systemdAnalyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first {
    FileManager.default.isExecutableFile(atPath: $0)
}

@Suite("systemd unit")
struct UnitFileTests {
    func settings() throws -> [String: [String]] {
        let text = try String(contentsOfFile: unitPath, encoding: .utf8)
        var result: [String: [String]] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") && line.contains("=") {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            result[String(parts[0]), default: []].append(String(parts[1]))
        }
        return result
    }

    @Test("the unit says what CONTRACT.md and the issue require")
    func requiredSettings() throws {
        let s = try settings()
        #expect(s["Type"] == ["notify"])
        #expect(s["ExecStart"] == ["/usr/local/bin/firewatch run --config /etc/firewatch/site.yaml"])
        #expect(s["ExecReload"] == ["/bin/kill -HUP $MAINPID"])
        #expect(s["Restart"] == ["always"])
        #expect(s["RestartPreventExitStatus"] == ["78"])
        #expect(s["WatchdogSec"] == ["30s"])
        #expect(s["User"] == ["firewatch"])
        #expect(s["StateDirectory"] == ["firewatch"])
        #expect(s["RuntimeDirectory"] == ["firewatch"])
        #expect(s["ProtectSystem"] == ["strict"])
        #expect(s["NoNewPrivileges"] == ["yes"])
        #expect(s["CapabilityBoundingSet"] == [""])
    }

    @Test(
        "systemd-analyze verify accepts it (with ExecStart pointed at /bin/true)")
    func verifies() async throws {
        try #require(systemdAnalyze != nil, "systemd-analyze is not installed: make deps installs Debian's systemd package")
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let text = try String(contentsOfFile: unitPath, encoding: .utf8)
            .replacingOccurrences(of: "ExecStart=/usr/local/bin/firewatch", with: "ExecStart=/bin/true")
        let copy = dir.file("firewatch.service")
        try text.write(toFile: copy, atomically: true, encoding: .utf8)
        let outcome = try await ProcessRunner.run(
            ProcessSpec(argv: [systemdAnalyze!, "verify", copy], timeout: .seconds(60)))
        #expect(outcome.termination == .exited(0), "\(outcome.outputTail)")
        #expect(outcome.outputTail.isEmpty, "warnings: \(outcome.outputTail)")
    }
}

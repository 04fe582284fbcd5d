import Foundation
import Testing

@testable import AlertLog
import FireWatchTesting

@Suite("Alerts: follow (in process, scripted writer)")
struct AlertsFollowTests {
    private static func line(_ index: Int) -> [UInt8] {
        AlertLogFixture.record(index: index, seq: index + 1, rotated: false, prev: String(repeating: "0", count: 64))
    }

    private static func append(_ path: String, _ bytes: [UInt8]) {
        if !FileManager.default.fileExists(atPath: path) {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
        }
        let handle = FileHandle(forWritingAtPath: path)!
        handle.seekToEndOfFile()
        handle.write(Data(bytes))
        handle.closeFile()
    }

    @Test("follows appends, holds back a half-written line, survives rotation and truncation, waits for a file")
    func scripted() throws {
        let fixture = AlertLogFixture(count: 3)
        defer { fixture.cleanUp() }
        let path = fixture.livePath
        let file = try AlertLogFile(path: path)
        let log = WarningLog()
        let follower = AlertFollower(path: path, file: file, offset: file.size(), warnings: log.warnings)
        let l = (3..<12).map(Self.line)
        let half = l[1].count / 2
        // Each pause is one writer step, so what the follower sees between polls is fixed, not timed.
        let steps: [() -> Void] = [
            { Self.append(path, l[0] + [0x0A]) },
            { Self.append(path, Array(l[1][..<half])) },  // half a line: must not be shown
            { Self.append(path, Array(l[1][half...]) + [0x0A]) },
            {  // rotation: a last line in the old file, then a new file
                Self.append(path, l[2] + [0x0A])
                try! FileManager.default.moveItem(atPath: path, toPath: path + ".1")
                Self.append(path, l[3] + [0x0A] + l[4] + [0x0A])
            },
            {  // truncation, then a shorter content than was read before
                try! Data().write(to: URL(fileURLWithPath: path))
                Self.append(path, l[5] + [0x0A] + Array("junk".utf8) + [0x0A])
            },
            { try! FileManager.default.removeItem(atPath: path) },  // gone for a while: keep waiting
            { Self.append(path, l[6] + [0x0A]) },
        ]
        var step = 0
        var seen: [[UInt8]] = []
        var seenAfterStep: [Int] = []
        try follower.run(
            shouldStop: { step > steps.count },
            pause: {
                seenAfterStep.append(seen.count)
                if step < steps.count { steps[step]() }
                step += 1
            },
            emit: { seen.append($0.bytes) },
            batchDone: {})
        #expect(seen == [l[0], l[1], l[2], l[3], l[4], l[5], l[6]])
        #expect(seenAfterStep[2] == 1)  // after the half line was written, only the first line was out
        #expect(log.messages.contains { $0.contains("truncated") })
        // Line numbers restart after the truncation: the junk is line 2 of the file as it is now.
        #expect(log.messages.contains("warning: \(path):2: not a JSON object; skipped"))
        #expect(log.messages.contains { $0.contains("rotated") })
        #expect(log.messages.contains { $0.contains("does not exist") })
    }
}

/// A subprocess with stdout and stderr going to files, so nothing blocks on a full pipe.
final class Child {
    let process = Process()
    let out: URL
    let err: URL

    init(_ arguments: [String], executable: String? = nil, environment: [String: String] = [:]) throws {
        let executable = try executable ?? FirewatchExecutable.required()
        let folder = FileManager.default.temporaryDirectory
        out = folder.appendingPathComponent("child-\(UUID().uuidString).out")
        err = folder.appendingPathComponent("child-\(UUID().uuidString).err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["TZ"] = "UTC"
        env["NO_COLOR"] = nil  // only what a test sets: the runner's own environment may carry it
        for (key, value) in environment { env[key] = value }
        process.environment = env
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: out)
        try? FileManager.default.removeItem(at: err)
    }

    var stdout: Data { (try? Data(contentsOf: out)) ?? Data() }
    var stderr: String { String(decoding: (try? Data(contentsOf: err)) ?? Data(), as: UTF8.self) }

    /// Complete lines written to stdout so far.
    var lines: [[UInt8]] {
        var parts = stdout.split(separator: 0x0A, omittingEmptySubsequences: false).map { Array($0) }
        parts.removeLast()  // the (possibly empty) unterminated tail
        return parts
    }

    /// Waits until stdout holds at least `count` lines or 20 s pass; returns the lines either way.
    func waitForLines(_ count: Int) async throws -> [[UInt8]] {
        for _ in 0..<1000 {  // 1000 × 20 ms = the 20 s cap
            let now = lines
            if now.count >= count { return now }
            try await Task.sleep(for: .milliseconds(20))
        }
        return lines
    }

    /// Waits up to 20 s for the process to end; returns its exit status, or nil if it is still running.
    func waitForExit() async throws -> Int32? {
        for _ in 0..<1000 where process.isRunning { try await Task.sleep(for: .milliseconds(20)) }
        if process.isRunning { return nil }
        return process.terminationReason == .exit ? process.terminationStatus : 128 + process.terminationStatus
    }
}

/// Runs `/bin/sh -c script` with `environment` and waits for it: the writer in another process.
func shell(_ script: String, _ environment: [String: String]) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", script]
    process.environment = environment
    try process.run()
    process.waitUntilExit()
    #expect(process.terminationStatus == 0, "writer script failed: \(script)")
}

@Suite(
    "Alerts: follow as a subprocess, writer in another process",
    .serialized)
struct AlertsFollowProcessTests {
    @Test("firewatch alerts -f prints appends, whole lines only, across rotation and truncation; SIGINT exits 0")
    func followAcrossRotationAndTruncation() async throws {
        let fixture = AlertLogFixture(count: 3)
        defer { fixture.cleanUp() }
        let log = fixture.livePath
        let l = (3..<12).map { AlertLogFixture.record(index: $0, seq: $0 + 1, rotated: false, prev: "x") }
        func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }
        let child = try Child(["alerts", "-f", "--json", "-n", "2", "--log", log])
        var expected = Array(fixture.lines[1...])
        #expect(try await child.waitForLines(expected.count) == expected)

        try shell(#"printf '%s\n' "$L" >> "$LOG""#, ["LOG": log, "L": text(l[0])])
        expected.append(l[0])
        #expect(try await child.waitForLines(expected.count) == expected)

        // Half a line, a pause, then the rest: the follower must never print the half.
        let half = l[1].count / 2
        try shell(
            #"printf '%s' "$A" >> "$LOG"; sleep 0.5; printf '%s\n' "$B" >> "$LOG""#,
            ["LOG": log, "A": text(Array(l[1][..<half])), "B": text(Array(l[1][half...]))])
        expected.append(l[1])
        #expect(try await child.waitForLines(expected.count) == expected)

        // logrotate-style: last line into the old file, rename it away, start a new file.
        try shell(
            #"printf '%s\n' "$A" >> "$LOG"; mv "$LOG" "$LOG.1"; printf '%s\n%s\n' "$B" "$C" > "$LOG""#,
            ["LOG": log, "A": text(l[2]), "B": text(l[3]), "C": text(l[4])])
        expected += [l[2], l[3], l[4]]
        #expect(try await child.waitForLines(expected.count) == expected)

        // Truncation (copytruncate-style), then less than was there before.
        try shell(#": > "$LOG"; printf '%s\n' "$A" >> "$LOG""#, ["LOG": log, "A": text(l[5])])
        expected.append(l[5])
        #expect(try await child.waitForLines(expected.count) == expected)

        child.process.interrupt()  // SIGINT
        #expect(try await child.waitForExit() == 0)
        #expect(child.lines == expected)
        #expect(child.stderr.contains("truncated"))
    }
}

import Foundation
import Testing

@testable import AlertLog
@testable import Gateway
import FireWatchTesting

@Suite("Process runner")
struct ProcessRunnerTests {
    @Test("exit status 0 and non-zero are reported as such")
    func exitStatus() async throws {
        let ok = try await ProcessRunner.run(ProcessSpec(argv: ["/bin/true"], timeout: .seconds(30)))
        #expect(ok.termination == .exited(0))
        #expect(ok.succeeded)
        let failed = try await ProcessRunner.run(ProcessSpec(argv: ["/bin/sh", "-c", "exit 3"], timeout: .seconds(30)))
        #expect(failed.termination == .exited(3))
        #expect(!failed.succeeded)
        #expect(!failed.timedOut)
        #expect(failed.recordMembers.first == JSONMember("exit_status", 3))
    }

    @Test("arguments are passed as-is, without a shell")
    func noShell() async throws {
        let outcome = try await ProcessRunner.run(
            ProcessSpec(argv: ["/bin/echo", "a b", "$HOME", "; rm -rf /", "*"], timeout: .seconds(30)))
        #expect(outcome.outputTail == "a b $HOME ; rm -rf / *\n")
    }

    @Test("a program past its timeout is killed by a signal")
    func timeoutKills() async throws {
        let outcome = try await ProcessRunner.run(
            ProcessSpec(argv: ["/bin/sleep", "30"], timeout: .milliseconds(200), killGrace: .seconds(5)))
        #expect(outcome.timedOut)
        #expect(outcome.termination == .signalled(SIGTERM))
        #expect(!outcome.succeeded)
        #expect(outcome.recordMembers.contains(JSONMember("timed_out", true)))
    }

    @Test("a program that closes its output and hangs is still killed at the timeout")
    func closedOutputStillTimesOut() async throws {
        let outcome = try await ProcessRunner.run(
            ProcessSpec(
                argv: ["/bin/sh", "-c", "echo bye; exec >/dev/null 2>&1; sleep 30"], timeout: .milliseconds(300),
                killGrace: .seconds(5)))
        #expect(outcome.timedOut)
        #expect(outcome.termination == .signalled(SIGTERM))
        #expect(outcome.outputTail == "bye\n")
    }

    @Test("a program that ignores SIGTERM gets SIGKILL after the grace period")
    func ignoresTerm() async throws {
        // The shell traps TERM and waits; its own `sleep` child is in the same process group.
        let outcome = try await ProcessRunner.run(
            ProcessSpec(
                argv: ["/bin/sh", "-c", "trap '' TERM; echo armed; while :; do sleep 1; done"],
                timeout: .milliseconds(300), killGrace: .milliseconds(300)))
        #expect(outcome.timedOut)
        #expect(outcome.termination == .signalled(SIGKILL))
        #expect(outcome.outputTail.hasPrefix("armed"))
    }

    @Test("only the tail of combined stdout and stderr is kept")
    func outputTail() async throws {
        let script = "i=0; while [ $i -lt 2000 ]; do echo line-$i; i=$((i+1)); done; echo to-stderr >&2"
        let outcome = try await ProcessRunner.run(
            ProcessSpec(argv: ["/bin/sh", "-c", script], timeout: .seconds(30), outputTailBytes: 100))
        #expect(outcome.termination == .exited(0))
        #expect(outcome.outputTail.utf8.count == 100)
        #expect(outcome.outputTail.hasSuffix("line-1999\nto-stderr\n"))
        #expect(outcome.outputBytes > 10_000)
    }

    @Test("stdin bytes reach the program")
    func stdinDelivered() async throws {
        let record = #"{"seq":7,"event":"zone.state","message":"35 °C"}"# + "\n"
        let outcome = try await ProcessRunner.run(
            ProcessSpec(argv: ["/bin/cat"], stdin: Array(record.utf8), timeout: .seconds(30)))
        #expect(outcome.termination == .exited(0))
        #expect(outcome.outputTail == record)
    }

    @Test("a missing or non-executable program is a clear error")
    func missingExecutable() async throws {
        await #expect {
            _ = try await ProcessRunner.run(
                ProcessSpec(argv: ["/nonexistent/failover", "--from", "a"], timeout: .seconds(5)))
        } throws: { error in
            guard let e = error as? ProcessRunError else { return false }
            return e.code == .executableNotFound && e.message.contains("/nonexistent/failover")
        }
        await #expect {
            _ = try await ProcessRunner.run(ProcessSpec(argv: ["firewatch-no-such-program"], timeout: .seconds(5)))
        } throws: { error in
            (error as? ProcessRunError)?.code == .executableNotFound
        }
        let dir = try TemporaryDirectory()
        defer { dir.remove() }
        let plain = dir.file("failover")
        #expect(
            FileManager.default.createFile(
                atPath: plain, contents: Data("#!/bin/sh\n".utf8), attributes: [.posixPermissions: 0o644]))
        await #expect {
            _ = try await ProcessRunner.run(ProcessSpec(argv: [plain], timeout: .seconds(5)))
        } throws: { error in
            (error as? ProcessRunError)?.code == .notExecutable
        }
        await #expect {
            _ = try await ProcessRunner.run(ProcessSpec(argv: [], timeout: .seconds(5)))
        } throws: { error in
            (error as? ProcessRunError)?.code == .emptyArgv
        }
    }

    @Test("extra environment variables are added to the inherited ones")
    func environment() async throws {
        let outcome = try await ProcessRunner.run(
            ProcessSpec(
                argv: ["/bin/sh", "-c", "echo $FIREWATCH_ZONE; test -n \"$PATH\" && echo has-path"],
                timeout: .seconds(30), environment: ["FIREWATCH_ZONE": "battery-room-a"]))
        #expect(outcome.outputTail == "battery-room-a\nhas-path\n")
    }
}

@Suite("Process runner, stdin not read")
struct ProcessRunnerStdinTests {
    @Test("a program that exits without reading a large stdin neither kills us nor loses its status")
    func unreadStdin() async throws {
        let big = [UInt8](repeating: UInt8(ascii: "x"), count: 1 << 20)
        do {
            let outcome = try await ProcessRunner.run(
                ProcessSpec(argv: ["/bin/true"], stdin: big, timeout: .seconds(30)))
            #expect(outcome.termination == .exited(0))
        } catch {
            Issue.record("threw \(error)")
        }
    }
}

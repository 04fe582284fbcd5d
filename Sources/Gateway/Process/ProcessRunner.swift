import AlertLog
import Foundation
import Subprocess
import Synchronization

#if canImport(System)
    import System
#else
    import SystemPackage
#endif

/// What to run for a procedure's `run` step or a `command` notification channel.
public struct ProcessSpec: Sendable, Equatable {
    /// The program and its arguments, passed as-is (no shell). `argv[0]` is a path; without a `/`, it is
    /// looked up in `PATH`.
    public var argv: [String]
    /// Bytes for the program's stdin (a notification's record JSON); nil gives it an empty stdin.
    public var stdin: [UInt8]?
    /// How long the program may run before it is sent SIGTERM.
    public var timeout: Duration
    /// How long after SIGTERM before SIGKILL.
    public var killGrace: Duration
    /// How much of the end of its combined stdout and stderr to keep.
    public var outputTailBytes: Int
    /// Extra environment variables; the daemon's own environment is inherited.
    public var environment: [String: String]
    /// The working directory; nil keeps the daemon's.
    public var workingDirectory: String?

    public init(
        argv: [String], stdin: [UInt8]? = nil, timeout: Duration, killGrace: Duration = .seconds(5),
        outputTailBytes: Int = 4096, environment: [String: String] = [:], workingDirectory: String? = nil
    ) {
        self.argv = argv
        self.stdin = stdin
        self.timeout = timeout
        self.killGrace = killGrace
        self.outputTailBytes = max(outputTailBytes, 0)
        self.environment = environment
        self.workingDirectory = workingDirectory
    }
}

/// How a program run ended, for the `step.succeeded`/`step.failed` record.
public struct ProcessOutcome: Sendable, Equatable {
    /// How the process ended.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        case exited(Int32)
        case signalled(Int32)

        public var description: String {
            switch self {
            case .exited(let code): "exit status \(code)"
            case .signalled(let signal):
                "killed by signal \(signal)" + (signal == 9 ? " (SIGKILL)" : signal == 15 ? " (SIGTERM)" : "")
            }
        }
    }

    public var pid: Int32
    public var termination: Termination
    /// True when the timeout ran out and the process was sent SIGTERM (and SIGKILL after the grace period).
    public var timedOut: Bool
    /// The last `outputTailBytes` of combined stdout and stderr (invalid UTF-8 shown as U+FFFD).
    public var outputTail: String
    /// All bytes of output seen, of which `outputTail` is the end.
    public var outputBytes: Int

    /// Exited with status 0 before the timeout.
    public var succeeded: Bool { termination == .exited(0) && !timedOut }

    /// Members for the alert-log record of the step.
    public var recordMembers: [JSONMember] {
        var members: [JSONMember] = []
        switch termination {
        case .exited(let code): members.append(JSONMember("exit_status", .int(Int(code))))
        case .signalled(let signal): members.append(JSONMember("signal", .int(Int(signal))))
        }
        if timedOut { members.append(JSONMember("timed_out", true)) }
        members.append(JSONMember("output_tail", .string(outputTail)))
        return members
    }
}

/// A program that could not be started, with what to do about it.
public struct ProcessRunError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Why the program did not start.
    public enum Code: Sendable, Equatable {
        case emptyArgv
        case executableNotFound
        case notExecutable
        case spawnFailed
    }

    public var code: Code
    public var argv: [String]
    public var message: String

    public var description: String { message }
}

/// Runs `run` steps and `command` notification channels: argv without a shell, stdin bytes, a timeout
/// followed by SIGTERM to the program's process group and SIGKILL after a grace period, exit status or
/// signal, and the tail of its output.
///
/// Built on swift-subprocess: it waits for the child with its own monitoring (pidfd/epoll on Linux) rather
/// than a blocking `waitpid` on the cooperative pool, and its teardown sequence does the TERM-then-KILL.
/// The program gets its own process group, so a shell script's children are signalled with it. The timeout
/// runs until the process exits, not merely until its output closes. The first call sets SIGPIPE to be
/// ignored process-wide (see `ignoreBrokenPipes()`).
public enum ProcessRunner {
    /// Runs `spec` to completion (or to the kill) and reports how it ended.
    public static func run(_ spec: ProcessSpec) async throws(ProcessRunError) -> ProcessOutcome {
        guard let program = spec.argv.first, !program.isEmpty else {
            throw ProcessRunError(
                code: .emptyArgv, argv: spec.argv, message: "run step has an empty argv; give the program's path first")
        }
        if program.contains("/") {
            var st = stat()
            if stat(program, &st) != 0 {
                throw ProcessRunError(
                    code: .executableNotFound, argv: spec.argv,
                    message: "\(program): no such file; install it or fix the step's `run:` path")
            }
            if (st.st_mode & S_IFMT) == S_IFDIR || access(program, X_OK) != 0 {
                throw ProcessRunError(
                    code: .notExecutable, argv: spec.argv,
                    message: "\(program) is not an executable file; chmod +x it or fix the step's `run:` path")
            }
        }
        let executable: Executable = program.contains("/") ? .path(FilePath(program)) : .name(program)
        let environment: Environment =
            spec.environment.isEmpty
            ? .inherit
            : .inherit.updating(
                Dictionary(
                    uniqueKeysWithValues: spec.environment.map {
                        (Environment.Key(stringLiteral: $0.key), Optional($0.value))
                    }))
        var options = PlatformOptions()
        options.processGroupID = 0  // its own group: the teardown reaches what it started
        let tail = OutputTail(limit: spec.outputTailBytes)
        ignoreBrokenPipes()
        do {
            let result = try await Subprocess.run(
                executable, arguments: Arguments(Array(spec.argv.dropFirst())), environment: environment,
                workingDirectory: spec.workingDirectory.map { FilePath($0) }, platformOptions: options,
                input: .inputWriter, output: .sequence, error: .combinedWithOutput
            ) { execution in
                let pid = execution.processIdentifier.value
                return await withTaskGroup(of: RunEvent.self) { group -> Bool in
                    group.addTask {
                        // A program may exit without reading its stdin; that is its business, not an error.
                        if let bytes = spec.stdin, !bytes.isEmpty {
                            do { _ = try await execution.standardInputWriter.write(bytes) } catch {}
                        }
                        do { try await execution.standardInputWriter.finish() } catch {}
                        return .ignored
                    }
                    group.addTask {
                        do {
                            for try await buffer in execution.standardOutput {
                                buffer.withUnsafeBytes { tail.append($0) }
                            }
                        } catch {
                            tail.note("\n[output unreadable: \(error)]")
                        }
                        return .outputEnded
                    }
                    group.addTask {
                        do { try await Task.sleep(for: spec.timeout) } catch { return .ignored }
                        return .timedOut
                    }
                    while let event = await group.next() {
                        switch event {
                        case .ignored:
                            continue
                        case .outputEnded:
                            // Output can end long before the process does (`exec >/dev/null`): keep the timer
                            // running until the process has really exited.
                            group.addTask {
                                await waitForExit(pid: pid)
                                return .exited
                            }
                        case .exited:
                            group.cancelAll()
                            return false
                        case .timedOut:
                            await execution.teardown(using: [
                                .gracefulShutDown(toProcessGroup: true, allowedDurationToNextStep: spec.killGrace)
                            ])
                            group.cancelAll()
                            return true
                        }
                    }
                    return false
                }
            }
            let termination: ProcessOutcome.Termination
            switch result.terminationStatus {
            case .exited(let code): termination = .exited(code)
            case .signaled(let signal): termination = .signalled(signal)
            }
            let (text, total) = tail.snapshot()
            return ProcessOutcome(
                pid: result.processIdentifier.value, termination: termination, timedOut: result.closureResult,
                outputTail: text, outputBytes: total)
        } catch let error as SubprocessError {
            if error.code == .executableNotFound {
                throw ProcessRunError(
                    code: .executableNotFound, argv: spec.argv,
                    message: "\(program): not found in PATH; give its full path in the step's `run:`")
            }
            throw ProcessRunError(code: .spawnFailed, argv: spec.argv, message: "cannot start \(program): \(error)")
        } catch {
            throw ProcessRunError(code: .spawnFailed, argv: spec.argv, message: "cannot start \(program): \(error)")
        }
    }
}

private enum RunEvent: Sendable {
    case ignored
    case outputEnded
    case exited
    case timedOut
}

/// Waits, on a thread of its own, until process `pid` has exited, without reaping it: swift-subprocess
/// reaps it and reads its status. Returns at once if it is already gone.
private func waitForExit(pid: pid_t) async {
    await onOwnThread(name: "firewatch-wait-\(pid)") {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 && errno == EINTR {}
    }
}

/// Makes writes to a closed pipe fail with EPIPE instead of killing the daemon with SIGPIPE.
///
/// Process-wide, once: a hook that exits without reading its stdin must not take the fire-safety daemon with
/// it. Sockets already avoid SIGPIPE with MSG_NOSIGNAL; pipes have no such flag.
public func ignoreBrokenPipes() {
    _ = brokenPipesIgnored
}

private let brokenPipesIgnored: Void = {
    _ = signal(SIGPIPE, SIG_IGN)
}()

/// The last `limit` bytes of a stream, and a count of all of them.
private final class OutputTail: Sendable {
    private struct State {
        var bytes: [UInt8] = []
        var total = 0
    }
    private let limit: Int
    private let state = Mutex(State())

    init(limit: Int) { self.limit = limit }

    func append(_ chunk: UnsafeRawBufferPointer) {
        state.withLock { s in
            s.total += chunk.count
            s.bytes.append(contentsOf: chunk.suffix(limit))
            // Trim in batches so a chatty program does not cost a shift per chunk.
            if s.bytes.count > 2 * limit + 4096 { s.bytes.removeFirst(s.bytes.count - limit) }
        }
    }

    func note(_ text: String) {
        state.withLock { $0.bytes.append(contentsOf: Array(text.utf8)) }
    }

    func snapshot() -> (String, Int) {
        state.withLock { s in (String(decoding: s.bytes.suffix(limit), as: UTF8.self), s.total) }
    }
}

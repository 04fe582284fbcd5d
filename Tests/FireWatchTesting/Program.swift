import Foundation

/// What a program printed and how it ended.
public struct ProgramOutput: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
    /// Standard output, then standard error.
    public var combined: String { stdout + stderr }
}

/// Runs `executable` to its end and returns its exit status, stdout and stderr: the one way the suites run a
/// program (`firewatch`, `mbpoll`, `mount`). `environment` entries are added to this process's own.
///
/// Both pipes are read before the wait, so a program that prints much cannot stall on a full pipe.
public func runProgram(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws
    -> ProgramOutput
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // stderr on a thread of its own: reading one pipe to its end while the child fills the other would deadlock.
    let stderrData = ThreadResult { err.fileHandleForReading.readDataToEndOfFile() }
    let stdout = out.fileHandleForReading.readDataToEndOfFile()
    let stderr = stderrData.wait()
    process.waitUntilExit()
    return ProgramOutput(
        status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
        stderr: String(decoding: stderr, as: UTF8.self))
}

/// `runProgram` for async tests: the blocking wait runs on a thread of its own, never on the cooperative pool
/// (a test's own loopback server may need those threads while the program talks to it).
public func runProgram(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) async throws
    -> ProgramOutput
{
    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ProgramOutput, any Error>) in
        let thread = Thread {
            continuation.resume(with: Result { try runProgram(executable, arguments, environment: environment) })
        }
        thread.name = "test-program"
        thread.start()
    }
}

/// A value computed on a thread of its own, waited for once.
private final class ThreadResult<Value: Sendable>: @unchecked Sendable {
    // @unchecked: `value` is written once by the thread before the semaphore is signalled and read after the wait.
    private var value: Value?
    private let done = DispatchSemaphore(value: 0)

    init(_ work: @escaping @Sendable () -> Value) {
        let thread = Thread { [self] in
            self.value = work()
            self.done.signal()
        }
        thread.start()
    }

    func wait() -> Value {
        done.wait()
        return value!
    }
}

import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A program the bench starts: run to completion for its one JSON line, or kept running (a server).
struct Child {
    let process: Process
    let stdinPipe: Pipe
    let stdoutPipe: Pipe

    /// Starts `argv` with stdout piped (stderr goes to the bench's own stderr).
    static func start(_ argv: [String], environment: [String: String]? = nil) throws -> Child {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        if let environment { process.environment = environment }
        let input = Pipe()
        let output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        try process.run()
        return Child(process: process, stdinPipe: input, stdoutPipe: output)
    }

    /// Runs `argv` to its end (killed after `timeout` seconds) and returns its stdout.
    static func output(_ argv: [String], timeout: Double = 120) throws -> String {
        let child = try start(argv)
        try? child.stdinPipe.fileHandleForWriting.close()
        let killer = DispatchWorkItem { [process = child.process] in
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: killer)
        let data = child.stdoutPipe.fileHandleForReading.readDataToEndOfFile()
        child.process.waitUntilExit()
        killer.cancel()
        guard child.process.terminationStatus == 0 else {
            throw BenchError("\(argv.joined(separator: " ")) exited with \(child.process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// The first line of stdout (a server's `PORT n`).
    func readLine() -> String {
        var bytes: [UInt8] = []
        let fd = stdoutPipe.fileHandleForReading.fileDescriptor
        var byte: UInt8 = 0
        while read(fd, &byte, 1) == 1 && byte != 10 { bytes.append(byte) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Closes its stdin (servers exit on that) and waits, killing it after 10 s.
    func stop() {
        try? stdinPipe.fileHandleForWriting.close()
        let deadline = monotonicSeconds() + 10
        while process.isRunning && monotonicSeconds() < deadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }
}

/// A failure of the bench itself.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The last JSON object line a measured program printed, as numbers.
func parseFigures(_ output: String) throws -> [String: Double] {
    guard let line = output.split(separator: "\n").last(where: { $0.hasPrefix("{") }),
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
    else { throw BenchError("no JSON line in output: \(output.prefix(200))") }
    var figures: [String: Double] = [:]
    for (key, value) in object {
        if let number = value as? NSNumber { figures[key] = number.doubleValue }
    }
    return figures
}

/// Output of a shell command, trimmed ("?" when it fails).
func shell(_ command: String) -> String {
    guard let text = try? Child.output(["/bin/sh", "-c", command], timeout: 30) else { return "?" }
    return text.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// This executable's absolute path, to start its other verbs.
func selfPath() -> String {
    var buffer = [CChar](repeating: 0, count: 4096)
    let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
    guard count > 0 else { return CommandLine.arguments[0] }
    return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

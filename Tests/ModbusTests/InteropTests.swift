import FireWatchTesting
import Foundation
import Testing

@testable import Modbus

/// Reads and writes our server with Debian's mbpoll, an implementation we did not write.
@Suite("Interop with mbpoll")
struct InteropTests {
    static let mbpoll = "/usr/bin/mbpoll"
    static var available: Bool { FileManager.default.isExecutableFile(atPath: mbpoll) }

    /// Runs mbpoll and returns its exit status and standard output.
    func run(_ arguments: [String]) async throws -> (Int32, String) {
        let run: ProgramOutput = try await runProgram(Self.mbpoll, arguments)
        return (run.status, run.combined)
    }

    /// The `[reference]: value` lines mbpoll prints, as a dictionary.
    func values(_ text: String) -> [Int: Int] {
        var result: [Int: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].hasPrefix("["), parts[0].hasSuffix("]"),
                let reference = Int(parts[0].dropFirst().dropLast()),
                // "65535 (-1)": mbpoll adds the signed reading of values above 32767.
                let value = parts[1].split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap({ Int($0) })
            else { continue }
            result[reference] = value
        }
        return result
    }

    @Test(
        "mbpoll reads every table and writes holding registers and coils")
    func mbpollReadsAndWrites() async throws {
        try #require(Self.available, "mbpoll is not installed: make deps installs it")
        let server = try Server()
        try server.set(.holding, address: 0, values: [4660, 22136, 0, 65535])
        try server.set(.input, address: 10, values: [7, 8])
        try server.set(.coil, address: 0, values: [1, 0, 1])
        try server.set(.discrete, address: 5, values: [0, 1])
        let common = ["-m", "tcp", "-a", "1", "-1", "-o", "2", "-p", "\(server.port)"]

        // -t 4: holding registers, 1-based references (reference 1 is address 0).
        var (status, text) = try await run(common + ["-t", "4", "-r", "1", "-c", "4", "127.0.0.1"])
        #expect(status == 0, "\(text)")
        #expect(values(text) == [1: 4660, 2: 22136, 3: 0, 4: 65535], "\(text)")

        // -t 3: input registers, 0-based with -0.
        (status, text) = try await run(common + ["-0", "-t", "3", "-r", "10", "-c", "2", "127.0.0.1"])
        #expect(values(text) == [10: 7, 11: 8], "\(text)")

        // -t 0: coils; -t 1: discrete inputs.
        (status, text) = try await run(common + ["-t", "0", "-r", "1", "-c", "3", "127.0.0.1"])
        #expect(values(text) == [1: 1, 2: 0, 3: 1], "\(text)")
        (status, text) = try await run(common + ["-t", "1", "-r", "6", "-c", "2", "127.0.0.1"])
        #expect(values(text) == [6: 0, 7: 1], "\(text)")

        // Writes: holding registers 21…22 (addresses 20, 21) and coil 31 (address 30).
        (status, text) = try await run(common + ["-t", "4", "-r", "21", "127.0.0.1", "1234", "5678"])
        #expect(status == 0, "\(text)")
        #expect(try server.get(.holding, address: 20, count: 2) == [1234, 5678])
        (status, text) = try await run(common + ["-t", "0", "-r", "31", "127.0.0.1", "1"])
        #expect(status == 0, "\(text)")
        #expect(try server.get(.coil, address: 30, count: 1) == [1])

        // Reading past the map: mbpoll reports the illegal data address exception our server sent.
        let small = try Server(layout: RegisterLayout(holdingRegisters: 0..<4))
        (status, text) = try await run(
            [
                "-m", "tcp", "-a", "1", "-1", "-o", "2", "-p", "\(small.port)", "-t", "4", "-r", "4", "-c", "2",
                "127.0.0.1",
            ])
        #expect(text.lowercased().contains("illegal data address"), "\(text)")
    }
}

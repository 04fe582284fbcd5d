import Modbus

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `fw-bench serve [--servers K] [--units N]`: `Modbus.Server`s in their own process, so that their CPU is never
/// counted as a client's or the daemon's. Prints `PORT <n>` per server, then serves until standard input
/// closes; a line `STATS` on standard input answers `STATS <requests served by all servers>`.
enum Serve {
    static func run(_ options: Options) throws {
        let serverCount = max(1, options.int("servers", 1))
        let unitCount = options.int("units", 0)
        let units: [UInt8]? = unitCount > 0 ? (1...unitCount).map { UInt8(clamping: $0) } : nil
        let servers = try (0..<serverCount).map { _ in try makeServer(units: units) }
        // write(2), not print: the parent reads these lines from a pipe, and print would sit in stdio's buffer.
        for server in servers { say("PORT \(server.port)") }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while read(0, &byte, 1) > 0 {
            if byte != 10 {
                line.append(byte)
                continue
            }
            if line == Array("STATS".utf8) {
                say("STATS \(servers.reduce(0) { $0 + $1.statistics.requests })")
            }
            line.removeAll()
        }
        for server in servers { server.stop() }
    }

    /// A loopback server with registers 0…124 of the holding and input tables set to 0, 3, 6, …
    static func makeServer(units: [UInt8]?, onWrite: Server.WriteHook? = nil) throws -> Server {
        // Small maps when there are many units: 247 units × 4 tables × 10,000 entries would be 15 MB a server.
        let size = units == nil ? 10_000 : 256
        let layout = RegisterLayout(
            coils: 0..<size, discreteInputs: 0..<size, inputRegisters: 0..<size, holdingRegisters: 0..<size)
        let server = try Server(
            host: "127.0.0.1", port: 0, layout: layout, units: units,
            options: Server.Options(maxConnections: 8192, idleTimeout: nil), onWrite: onWrite)
        let values = (0..<125).map { UInt16($0 * 3) }
        for unit in units ?? [1] {
            try server.set(.holding, address: 0, values: values, unit: units == nil ? nil : unit)
            try server.set(.input, address: 0, values: values, unit: units == nil ? nil : unit)
        }
        return server
    }

    static func say(_ text: String) {
        var line = text + "\n"
        line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
    }
}

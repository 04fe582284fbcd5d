import Modbus

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `fw-bench serve [--units N]`: a `Modbus.Server` in its own process, so that its CPU is never counted as a
/// client's. Prints `PORT <n>` and serves until its standard input closes.
enum Serve {
    static func run(_ options: Options) throws {
        let unitCount = options.int("units", 0)
        let units: [UInt8]? = unitCount > 0 ? (1...unitCount).map { UInt8(clamping: $0) } : nil
        // Small maps when there are many units: 2,000 units × 10,000 registers would be 160 MB of maps.
        let size = unitCount > 0 ? 256 : 10_000
        let layout = RegisterLayout(
            coils: 0..<size, discreteInputs: 0..<size, inputRegisters: 0..<size, holdingRegisters: 0..<size)
        let server = try Server(
            host: "127.0.0.1", port: 0, layout: layout, units: units,
            options: Server.Options(maxConnections: 8192, idleTimeout: nil))
        let values = (0..<125).map { UInt16($0 * 3) }
        for unit in units ?? [1] {
            try server.set(.holding, address: 0, values: values, unit: units == nil ? nil : unit)
            try server.set(.input, address: 0, values: values, unit: units == nil ? nil : unit)
        }
        // write(2), not print: the parent reads this line from a pipe, and print would sit in stdio's buffer.
        var line = "PORT \(server.port)\n"
        line.withUTF8 { _ = write(1, $0.baseAddress, $0.count) }
        var byte: UInt8 = 0
        while read(0, &byte, 1) > 0 {}
        server.stop()
    }
}

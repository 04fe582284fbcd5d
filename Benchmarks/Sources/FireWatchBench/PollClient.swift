import Modbus

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `fw-bench client --port P --registers N --mode executor|await --seconds S --warmup W`: one connection, reads
/// of N holding registers back to back. Prints one JSON line like the C and Python loops:
/// `{"requests":…,"wall_s":…,"cpu_s":…}` over the measured part only (after W warm-up requests).
enum PollClient {
    static func run(_ options: Options) async throws {
        let port = options.int("port")
        let registers = options.int("registers")
        let seconds = options.double("seconds", 2)
        let warmup = options.int("warmup", 500)
        let client = Client(host: "127.0.0.1", port: port, unit: 1)
        let mode = options.string("mode")
        let result: (requests: Int, start: ProcessSample, end: ProcessSample)
        switch mode {
        case "executor": result = try await executorLoop(client, registers, seconds, warmup)
        case "await": result = try await awaitLoop(client, registers, seconds, warmup)
        default: die("--mode is executor or await")
        }
        await client.close()
        let wall = result.end.wall - result.start.wall
        let cpu = result.end.cpu - result.start.cpu
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        print(
            "{\"requests\":\(result.requests),\"wall_s\":\(wall),\"cpu_s\":\(cpu),"
                + "\"pool_threads\":\(IOPool.shared.threadCount),\"voluntary_switches\":\(usage.ru_nvcsw)}")
    }

    /// The daemon's way: the loop prefers the I/O pool as its executor, so it runs on the thread doing the I/O.
    nonisolated static func executorLoop(
        _ client: Client, _ registers: Int, _ seconds: Double, _ warmup: Int
    ) async throws -> (requests: Int, start: ProcessSample, end: ProcessSample) {
        try await withTaskExecutorPreference(IOPool.shared) {
            try await loop(client, registers, seconds, warmup)
        }
    }

    /// A plain `await` from the cooperative pool: two thread switches per request.
    nonisolated static func awaitLoop(
        _ client: Client, _ registers: Int, _ seconds: Double, _ warmup: Int
    ) async throws -> (requests: Int, start: ProcessSample, end: ProcessSample) {
        try await loop(client, registers, seconds, warmup)
    }

    nonisolated static func loop(
        _ client: Client, _ registers: Int, _ seconds: Double, _ warmup: Int
    ) async throws -> (requests: Int, start: ProcessSample, end: ProcessSample) {
        for _ in 0..<warmup { _ = try await client.readHoldingRegisters(address: 0, count: registers) }
        let start = ProcessSample.now()
        let deadline = start.wall + seconds
        var requests = 0
        var checksum = 0
        while true {
            let values = try await client.readHoldingRegisters(address: 0, count: registers)
            checksum &+= Int(values[registers - 1])
            requests += 1
            // The clock is read every 64 requests, as in the C loop.
            if requests & 63 == 0 && monotonicSeconds() >= deadline { break }
        }
        let end = ProcessSample.now()
        if checksum == -1 { print("") }
        return (requests, start, end)
    }
}

import Modbus
import SiteConfig

/// The outcome of reading every point of a device once.
public struct DeviceReadResult: Sendable {
    /// One reading per point that was read, in the order of the plan's requests.
    public var readings: [PointReading]
    /// Requests that failed for good, with why (after any illegal-address splitting).
    public var failures: [Failure]
    /// The plan after any splitting: keep it for the next poll of this device.
    public var plan: ReadPlan

    /// A request that could not be read.
    public struct Failure: Sendable {
        public var request: ReadRequest
        public var error: ModbusError
    }

    /// True when not a single request got an answer because the device could not be reached.
    public var unreachable: Bool {
        readings.isEmpty && !failures.isEmpty && failures.allSatisfy { $0.error.isUnreachable }
    }
}

extension ModbusError {
    /// Connection-level failures: the device (or the path to it) did not answer at all.
    public var isUnreachable: Bool {
        switch code {
        case .timeout, .connectionRefused, .connectionReset, .hostUnreachable, .closed: return true
        case .exception, .invalidResponse, .invalidRequest, .other: return false
        }
    }
}

/// Executes a `ReadPlan` against a device: reads only (never writes), splits a merged request when the
/// device answers "illegal data address", and decodes with the profile. Used by `firewatch read`; the
/// poller does the same per cycle and keeps the returned plan.
public enum DeviceReader {
    public static func readAll(client: Client, plan: ReadPlan) async -> DeviceReadResult {
        var plan = plan
        var readings: [PointReading] = []
        var failures: [DeviceReadResult.Failure] = []
        var queue = plan.requests[...]
        // Splits only make requests finer, so this ends; the bound is belt and braces.
        var budget = 4 * max(1, plan.points.count) + plan.requests.count
        while let request = queue.popFirst(), budget > 0 {
            budget -= 1
            do {
                let values = try await client.read(request.table, address: request.address, count: request.count)
                readings += plan.decode(request, registers: values)
            } catch {
                if case .exception(.illegalDataAddress) = error.code,
                    let split = plan.splitting(afterIllegalAddress: request)
                {
                    let pieces = split.requests.filter { !plan.requests.contains($0) }
                    plan = split
                    queue = pieces[...] + queue
                    continue
                }
                failures.append(DeviceReadResult.Failure(request: request, error: error))
                // A device that does not answer will not answer the next request either.
                if error.isUnreachable {
                    for rest in queue { failures.append(DeviceReadResult.Failure(request: rest, error: error)) }
                    break
                }
            }
        }
        return DeviceReadResult(readings: readings, failures: failures, plan: plan)
    }
}

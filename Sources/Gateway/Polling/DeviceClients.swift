import FireSafety
import Modbus
import SiteConfig
import Synchronization

/// One Modbus `Client` per device, shared by its poller and the actuator so a device sees one connection and
/// a write queues behind (never beside) a poll on the client's own I/O lane. Kept across reloads while the
/// device's endpoint and timeout stay the same.
final class DeviceClients: Sendable {
    private struct Key: Hashable {
        var host: String
        var port: Int
        var unit: Int
        var timeout: Duration
    }

    private let clients = Mutex<[String: (Key, Client)]>([:])

    /// The device's client, made on first use (or again when its endpoint or timeout changed).
    func client(for device: DeviceConfig, timeout: Duration) -> Client {
        let key = Key(host: device.host, port: device.port, unit: device.unit, timeout: timeout)
        let (client, replaced) = clients.withLock { clients -> (Client, Client?) in
            if let (existing, client) = clients[device.name], existing == key { return (client, nil) }
            let client = Client(
                host: device.host, port: device.port, unit: UInt8(clamping: device.unit), responseTimeout: timeout,
                byteTimeout: min(timeout, .milliseconds(500)))
            let old = clients[device.name]?.1
            clients[device.name] = (key, client)
            return (client, old)
        }
        if let replaced { Task { await replaced.close() } }
        return client
    }

    /// Closes every connection.
    func closeAll() async {
        let all = clients.withLock { clients in
            defer { clients.removeAll() }
            return clients.values.map(\.1)
        }
        for client in all { await client.close() }
    }
}

/// What the daemon knows about each device's polls, for `status`, readiness and the watchdog.
final class DeviceHealth: Sendable {
    struct Entry: Sendable {
        var endpoint: String
        var up: Bool?
        var lastPoll: Timestamp?
        var lastPollReal: ContinuousClock.Instant?
        var polls = 0
        var failedPolls = 0
        var lastError: String?
        /// Polls finished since the current configuration was loaded (readiness).
        var pollsThisGeneration = 0
        /// A poll that takes longer than this (real time) means the poller is stuck.
        var stallLimit: Duration = .seconds(60)
    }

    private let entries = Mutex<(order: [String], byName: [String: Entry])>(([], [:]))

    /// Starts a new configuration: devices not in it are forgotten, the others keep their history.
    func reset(devices: [(name: String, endpoint: String, stallLimit: Duration)]) {
        entries.withLock { state in
            var byName: [String: Entry] = [:]
            for device in devices {
                var entry = state.byName[device.name] ?? Entry(endpoint: device.endpoint)
                entry.endpoint = device.endpoint
                entry.pollsThisGeneration = 0
                entry.stallLimit = device.stallLimit
                byName[device.name] = entry
            }
            state = (devices.map(\.name), byName)
        }
    }

    /// Records a finished poll; returns whether the device's reachability changed, and whether this poll
    /// completed the first full cycle of every device.
    func pollFinished(device: String, up: Bool, error: String?, at time: Timestamp)
        -> (changed: Bool, firstCycleComplete: Bool)
    {
        entries.withLock { state in
            guard var entry = state.byName[device] else { return (false, false) }
            let changed = entry.up != up
            entry.up = up
            entry.lastPoll = time
            entry.lastPollReal = .now
            entry.polls += 1
            if !up || error != nil { entry.failedPolls += 1 }
            entry.lastError = error
            entry.pollsThisGeneration += 1
            let first = entry.pollsThisGeneration == 1
            state.byName[device] = entry
            let complete = first && state.byName.values.allSatisfy { $0.pollsThisGeneration > 0 }
            return (changed, complete)
        }
    }

    /// Every device has polled within its stall limit: the pollers make progress.
    func progressing(now: ContinuousClock.Instant = .now) -> Bool {
        entries.withLock { state in
            state.byName.values.allSatisfy { entry in
                guard let last = entry.lastPollReal else { return false }
                return now - last <= entry.stallLimit
            }
        }
    }

    var allPolledOnce: Bool {
        entries.withLock { state in state.byName.values.allSatisfy { $0.pollsThisGeneration > 0 } }
    }

    func snapshot() -> [(name: String, entry: Entry)] {
        entries.withLock { state in state.order.compactMap { name in state.byName[name].map { (name, $0) } } }
    }
}

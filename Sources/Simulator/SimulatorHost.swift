import FireSafety
import Foundation
import Modbus
import SiteConfig
import Synchronization

/// A device the host serves: where a client finds it.
public struct ServedDevice: Sendable, Hashable, CustomStringConvertible {
    public var name: String
    /// The profile reference, as the site names it.
    public var profile: String
    public var host: String
    public var port: Int
    public var unit: Int

    public var description: String { "\(name)  \(host):\(port) unit \(unit)  (\(profile))" }
}

/// A write a client made to a simulated device, matched to the profile command it is (if any).
public struct SimWrite: Sendable, Hashable, CustomStringConvertible {
    /// Site time since the host started.
    public var at: Duration
    public var device: String
    /// The profile command whose table, address and value match; nil for a write no command declares
    /// (it is kept as written, and recorded here).
    public var command: String?
    public var table: Table
    public var address: Int
    public var values: [UInt16]
    /// What the model did with it: `accepted`, `not answered`, `not simulated`, or nil for unknown writes.
    public var outcome: String?

    /// `83.661s write feed-a.start_exhaust (accepted)`, or `… write feed-a coil 4 = 1 (no such command)`.
    public var description: String {
        guard let command else {
            let values = values.map(String.init).joined(separator: ",")
            return
                "\(DurationText.format(at)) write \(device) \(table.rawValue) \(address) = \(values) (no such command)"
        }
        return "\(DurationText.format(at)) write \(device).\(command)\(outcome.map { " (\($0))" } ?? "")"
    }
}

/// Something the host saw happen, in site time since it started: a scenario event coming due, the
/// model acting on its own (venting, runaway, ignition, an effect taking hold), or a client's write.
public struct HostEvent: Sendable, Hashable, CustomStringConvertible {
    /// Where the event came from.
    public enum Kind: Sendable, Hashable {
        case scenario(ScheduledEvent)
        case model(ModelEvent)
        case write(SimWrite)
    }

    public var at: Duration
    public var kind: Kind

    public var description: String {
        switch kind {
        case .scenario(let item):
            return "\(DurationText.format(at)) scenario: \(ScenarioEventText.describe(item.event))"
        case .model(let event):
            return
                // ModelEvent's description starts with its own time; this line has one already.
                "\(DurationText.format(at)) model: "
                + event.description.split(separator: " ").dropFirst().joined(separator: " ")
        case .write(let write): return write.description
        }
    }
}

extension ModelEvent {
    /// A model event back from its line in `firewatch simulate`'s output (`HostEvent.description`:
    /// `83.661s model: battery-room-a runaway string 2`); nil for any other line. The effect is not read back.
    public init?(hostLine line: String) {
        let words = line.split(separator: " ")
        guard words.count >= 4, words[1] == "model:", let at = DurationText.parse(String(words[0])),
            let kind = Kind(rawValue: String(words[3]))
        else { return nil }
        let string = words.count >= 6 && words[4] == "string" ? Int(words[5]) : nil
        self.init(at: at, zone: String(words[2]), kind: kind, string: string)
    }
}

/// Serves a loaded site's devices as real Modbus/TCP from their profiles, with `SimulatedSite` behind
/// the registers, on one `Modbus.Server` per distinct host:port (devices as unit ids on it).
///
/// Time is the injected `SiteClock`'s: `run()` advances the model every `tick` of site time and writes
/// every bound point into the registers; a client's write is matched to the profile command it is and
/// handed to the model at once. `firewatch demo` shares one `ScaledSiteClock` between this host and the
/// daemon so both see the same compressed timeline. Only loopback (127.0.0.0/8) is ever served.
public final class SimulatorHost: Sendable {
    /// How long `firewatch simulate` keeps serving after a scenario's end, in site time, so the daemon's last
    /// steps (verify windows, retries) still find their devices.
    public static let scenarioGrace = Duration.seconds(30)

    /// The line `firewatch simulate --wait-for-polls` prints when its scenario starts, which a process beside it
    /// reads the scenario's site time from.
    public static func startLine(_ start: Timestamp) -> String {
        "scenario starts now: site time \(start.nanoseconds) ns (\(start))"
    }

    /// The site time in the first `startLine` of `output`; nil when it has none yet.
    public static func start(inOutput output: String) -> Timestamp? {
        let prefix = "scenario starts now: site time "
        for line in output.split(separator: "\n") where line.hasPrefix(prefix) {
            if let nanoseconds = Int64(line.dropFirst(prefix.count).prefix { $0.isNumber }) {
                return Timestamp(nanoseconds: nanoseconds)
            }
        }
        return nil
    }

    /// What the host serves, in site order.
    public let devices: [ServedDevice]
    public let spec: SimSiteSpec
    public let scenario: Scenario?
    public let clock: any SiteClock
    /// How often the model is advanced and the registers refreshed, in site time.
    public let tick: Duration

    private let slots: [DeviceSlot]
    private let servers: [Server]
    private let state: Mutex<HostState>
    private let onEvent: (@Sendable (HostEvent) -> Void)?

    /// Which ports to listen on.
    public enum Ports: Sendable, Hashable {
        /// Each device's configured port (`firewatch simulate`).
        case configured
        /// A free port per configured host:port (demo and tests); see ``devices`` and ``rewrite(_:)``.
        case ephemeral
    }

    /// Builds the model and starts serving at once.
    /// - Parameters:
    ///   - site: the loaded site; every device host must be in 127.0.0.0/8.
    ///   - scenario: its timeline drives the model; nil for a quiet site.
    ///   - clock: site time, shared with a daemon in the demo.
    ///   - tick: model and register refresh period in site time (never faster than every 5 ms of real time).
    ///   - held: serve the model's first moment, without starting the scenario, until ``begin()``
    ///     (so a scenario starts only once FireWatch is watching).
    ///   - onEvent: told of every `HostEvent` as it happens (on the tick task or a server thread; keep it quick).
    public init(
        site: LoadedSite, scenario: Scenario? = nil, clock: any SiteClock, seed: UInt64 = 1,
        ports: Ports = .configured, tick: Duration = .milliseconds(100), held: Bool = false,
        onEvent: (@Sendable (HostEvent) -> Void)? = nil
    ) throws(SimulationSetupError) {
        let spec = try SimSiteSpec(site: site)
        let simulated: SimulatedSite
        do {
            // The model's grid: what the zones ask for, but at most 2,000 steps per real second (a finer grid only
            // shows from 200x on, where a 100 ms step is half a millisecond of real time).
            simulated = try SimulatedSite(
                spec: spec, scenario: scenario, seed: seed, minimumStep: .microseconds(500) * clock.speed)
        } catch {
            throw SimulationSetupError(problems: error.problems)
        }
        var problems = Self.loopbackProblems(site)
        var groups: [(key: String, host: String, port: Int, devices: [DeviceConfig])] = []
        for device in site.devices {
            let key = "\(device.host):\(device.port)"
            if let index = groups.firstIndex(where: { $0.key == key }) {
                if let other = groups[index].devices.first(where: { $0.unit == device.unit }) {
                    problems.append(
                        "\(site.file):\(Self.line(of: device.name, in: site.file)): devices.\(device.name).unit: "
                            + "\(device.endpoint) is also \(other.name)'s; give one of them another unit or port")
                }
                groups[index].devices.append(device)
            } else {
                groups.append((key, device.host, device.port, [device]))
            }
        }
        for device in site.devices where !(0...255).contains(device.unit) {
            problems.append(
                "\(site.file): devices.\(device.name).unit: \(device.unit) is not a Modbus unit id (0…255)")
        }
        guard problems.isEmpty else { throw SimulationSetupError(problems: problems) }

        let state = Mutex(HostState(site: simulated, start: clock.now(), begun: !held))
        let router = WriteRouter()
        var servers: [Server] = []
        var slots: [DeviceSlot] = []
        var served: [ServedDevice] = []
        for (index, group) in groups.enumerated() {
            let profiles = group.devices.compactMap { site.profile(of: $0.name) }
            let server: Server
            do {
                server = try Server(
                    host: group.host, port: ports == .configured ? group.port : 0,
                    layout: Self.layout(for: profiles), units: group.devices.map { UInt8($0.unit) },
                    onWrite: { unit, table, address, values in
                        router.route(server: index, unit: unit, table: table, address: address, values: values)
                    })
            } catch {
                for server in servers { server.stop() }
                let names = group.devices.map(\.name).joined(separator: ", ")
                throw SimulationSetupError(problems: ["cannot serve \(names) on \(group.key): \(error)"])
            }
            servers.append(server)
            for device in group.devices {
                let bindings = spec.devices.first { $0.name == device.name }!.bindings
                slots.append(
                    DeviceSlot(
                        name: device.name, profile: site.profile(of: device.name)!, bindings: bindings,
                        server: server, serverIndex: index, unit: UInt8(device.unit)))
                served.append(
                    ServedDevice(
                        name: device.name, profile: device.profile, host: group.host, port: server.port,
                        unit: device.unit))
            }
        }
        // Site order, not port-group order.
        let order = Dictionary(uniqueKeysWithValues: site.devices.enumerated().map { ($1.name, $0) })
        self.devices = served.sorted { order[$0.name]! < order[$1.name]! }
        self.spec = spec
        self.scenario = scenario
        self.clock = clock
        self.tick = tick
        self.slots = slots
        self.servers = servers
        self.state = state
        self.onEvent = onEvent
        router.attach(self)
        refresh()
    }

    deinit { stop() }

    /// Stops every server (idempotent). The model keeps its state for the summary.
    public func stop() {
        for server in servers { server.stop() }
    }

    /// Site time at which the scenario started (or will: the host's creation until a held host begins).
    public var start: Timestamp { state.withLock { $0.start } }

    /// Whether the scenario's time is running (always, unless the host was created `held`).
    public var hasBegun: Bool { state.withLock { $0.begun } }

    /// Site time since the scenario started; zero while held.
    public var elapsed: Duration {
        let (start, begun) = state.withLock { ($0.start, $0.begun) }
        return begun ? clock.now() - start : .zero
    }

    /// Whether every port the host serves has answered at least `count` requests (a daemon in another process
    /// has then polled every device and judged the readings; see `firewatch simulate --wait-for-polls`).
    public func everyPortServed(atLeast count: Int) -> Bool {
        servers.allSatisfy { $0.statistics.requests >= count }
    }

    /// Starts the scenario's time now (a held host's timeline was standing still at zero). Later calls do nothing.
    public func begin() {
        let now = clock.now()
        state.withLock { state in
            guard !state.begun else { return }
            state.start = now
            state.begun = true
        }
    }

    /// Advances the model every ``tick`` of site time until the task is cancelled or `end` (site time
    /// since start) has passed.
    public func run(until end: Duration? = nil) async {
        // At high speeds 100 ms of site time is a few real milliseconds; refreshing faster than
        // every 5 ms of real time only burns the CPU the daemon needs.
        let step = max(tick, .milliseconds(5) * clock.speed)
        var next = clock.now()
        while !Task.isCancelled {
            refresh()
            if let end, elapsed >= end { return }
            next = max(next + step, clock.now())
            do { try await clock.sleep(until: next) } catch { return }
        }
    }

    /// Advances the model to the clock's now and writes every bound point into the registers.
    public func refresh() {
        let at = elapsed
        let timeline = scenario?.timeline ?? []
        let events = state.withLock { state -> [HostEvent] in
            state.site.advance(to: at)
            var events: [HostEvent] = []
            while state.nextTimeline < timeline.count, timeline[state.nextTimeline].at <= state.site.now {
                let item = timeline[state.nextTimeline]
                events.append(HostEvent(at: item.at, kind: .scenario(item)))
                state.nextTimeline += 1
            }
            let history = state.site.history
            if history.count > state.historySeen {
                events += history[state.historySeen...].map { HostEvent(at: $0.at, kind: .model($0)) }
                state.historySeen = history.count
            }
            for slot in slots { publish(slot, &state) }
            state.events += events
            return events
        }
        if let onEvent { for event in events { onEvent(event) } }
    }

    /// FireWatch's command writes as the expectation evaluator takes them (`Observation.write`).
    public var observations: [Observation] { state.withLock { $0.observations } }
    /// Every write a client made, matched or not.
    public var writes: [SimWrite] { state.withLock { $0.writes } }
    /// Scenario events, model events and writes in the order they happened.
    public var events: [HostEvent] { state.withLock { $0.events } }
    /// Problems met while serving (a value a point cannot encode), each once.
    public var servingProblems: [String] { state.withLock { $0.problems } }

    /// A zone of the model right now.
    public func zone(_ name: String) -> ZoneSnapshot? { state.withLock { $0.site.zone(name) } }

    /// The value the model serves for a device's point right now (as the registers will after the next refresh).
    public func value(device: String, point: String) -> SimValue? {
        state.withLock { $0.site.value(device: device, point: point) }
    }

    /// The site with each device's port replaced by the one the host serves it on (for `.ephemeral`).
    public func rewrite(_ site: LoadedSite) -> LoadedSite {
        var site = site
        for index in site.devices.indices {
            if let served = devices.first(where: { $0.name == site.devices[index].name }) {
                site.devices[index].port = served.port
            }
        }
        return site
    }

    // MARK: writes

    /// Called on a server thread after a client's write was stored.
    fileprivate func handleWrite(server: Int, unit: UInt8, table: Table, address: Int, values: [UInt16]) {
        guard let slot = slots.first(where: { $0.serverIndex == server && $0.unit == unit }) else { return }
        let command = slot.profile.commands.first {
            $0.table == table && $0.address == address && Self.matches($0.value, values)
        }
        let at = elapsed
        let event = state.withLock { state -> HostEvent in
            state.site.advance(to: at)
            var outcome: String?
            if let command {
                if slot.bindings.commands[command.name] != nil {
                    switch state.site.command(device: slot.name, command: command.name) {
                    case .accepted: outcome = "accepted"
                    case .notAnswered: outcome = "not answered"
                    case .unknownCommand, .unknownDevice: outcome = "not simulated"
                    }
                } else {
                    outcome = "not simulated"
                }
                state.observations.append(.write(slot.name, command.name, at: at))
            }
            let write = SimWrite(
                at: at, device: slot.name, command: command?.name, table: table, address: address, values: values,
                outcome: outcome)
            state.writes.append(write)
            let event = HostEvent(at: at, kind: .write(write))
            state.events.append(event)
            return event
        }
        onEvent?(event)
    }

    static func matches(_ value: CommandValue, _ written: [UInt16]) -> Bool {
        switch value {
        case .coil(let on): return written.first.map { ($0 != 0) == on } ?? false
        case .registers(let registers): return Array(written.prefix(registers.count)) == registers
        }
    }
}

/// The immutable facts about one served device.
struct DeviceSlot: Sendable {
    var name: String
    var profile: DeviceProfile
    var bindings: SimBindings
    var server: Server
    var serverIndex: Int
    var unit: UInt8
}

/// What the host changes while serving, behind one lock.
struct HostState: Sendable {
    var site: SimulatedSite
    var start: Timestamp
    var begun: Bool
    var observations: [Observation] = []
    var writes: [SimWrite] = []
    var events: [HostEvent] = []
    var nextTimeline = 0
    var historySeen = 0
    /// Registers last stored per `device.point`, so unchanged values are not stored again.
    var published: [String: [UInt16]] = [:]
    /// The fault last set per device (nil: answering).
    var faults: [String: Server.Fault?] = [:]
    var problems: [String] = []
}

/// Lets the servers' write hooks, created before the host exists, reach it.
final class WriteRouter: Sendable {
    /// Weak: the host owns the servers that own this router, and its deinit must still run.
    private struct Reference: Sendable { weak var host: SimulatorHost? }
    private let reference = Mutex(Reference())

    func attach(_ host: SimulatorHost) {
        reference.withLock { $0.host = host }
    }

    func route(server: Int, unit: UInt8, table: Table, address: Int, values: [UInt16]) {
        let target = reference.withLock { $0.host }
        target?.handleWrite(server: server, unit: unit, table: table, address: address, values: values)
    }
}

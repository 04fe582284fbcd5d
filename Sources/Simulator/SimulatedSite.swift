/// A simulated zone: how many battery strings and feeds it has, what its feeds power, and its physics.
public struct SimZoneSpec: Sendable, Hashable {
    public var name: String
    public var strings: Int
    public var feeds: Int
    public var wiring: ZoneWiring
    public var parameters: ModelParameters

    public init(
        name: String, strings: Int = 4, feeds: Int = 2, wiring: ZoneWiring = ZoneWiring(),
        parameters: ModelParameters = ModelParameters()
    ) {
        self.name = name
        self.strings = strings
        self.feeds = feeds
        self.wiring = wiring
        self.parameters = parameters
    }
}

/// A simulated device: which zone's model it looks at, how its points and commands bind to it, and
/// which of the zone's feeds powers it (nil: its own supply, unaffected by a power cut).
public struct SimDeviceSpec: Sendable, Hashable {
    public var name: String
    public var zone: String
    public var bindings: SimBindings
    public var poweredByFeed: Int?

    public init(name: String, zone: String, bindings: SimBindings, poweredByFeed: Int? = nil) {
        self.name = name
        self.zone = zone
        self.bindings = bindings
        self.poweredByFeed = poweredByFeed
    }
}

/// What the simulated site is made of; phase 2 builds it from `site.yaml` and the profiles.
public struct SimSiteSpec: Sendable, Hashable {
    public var zones: [SimZoneSpec]
    public var devices: [SimDeviceSpec]

    public init(zones: [SimZoneSpec], devices: [SimDeviceSpec]) {
        self.zones = zones
        self.devices = devices
    }

    /// Problems that make the spec unusable: unknown zones, duplicate names, feeds that do not exist.
    public func problems() -> [String] {
        var problems: [String] = []
        let zoneNames = zones.map(\.name)
        for name in Set(zoneNames) where zoneNames.filter({ $0 == name }).count > 1 {
            problems.append("zone \(name) is defined twice")
        }
        let deviceNames = devices.map(\.name)
        for name in Set(deviceNames) where deviceNames.filter({ $0 == name }).count > 1 {
            problems.append("device \(name) is defined twice")
        }
        for zone in zones {
            if zone.strings < 1 { problems.append("zone \(zone.name) has no battery strings") }
            for (what, feed) in [
                ("charger", zone.wiring.chargerFeed), ("hvac", zone.wiring.hvacFeed),
                ("exhaust", zone.wiring.exhaustFeed),
            ] {
                if let feed, !(1...zone.feeds).contains(feed) {
                    problems.append("zone \(zone.name): \(what) feed \(feed) does not exist (it has \(zone.feeds))")
                }
            }
        }
        for device in devices {
            guard let zone = zones.first(where: { $0.name == device.zone }) else {
                problems.append("device \(device.name): zone \(device.zone) does not exist")
                continue
            }
            if let feed = device.poweredByFeed, !(1...max(zone.feeds, 1)).contains(feed) {
                problems.append("device \(device.name): feed \(feed) does not exist in \(zone.name)")
            }
            for (key, quantity) in device.bindings.points.sorted(by: { $0.key < $1.key }) {
                guard case .model(let kind, let index?) = quantity.source else { continue }
                let limit = kind == .relay || kind == .feedClosed ? zone.feeds : zone.strings
                if index > limit {
                    problems.append("device \(device.name).\(key): \(quantity) is beyond \(zone.name)'s \(limit)")
                }
            }
        }
        return problems
    }
}

/// What happened when a command reached a simulated device.
public enum CommandOutcome: Sendable, Hashable {
    /// Accepted; its effect becomes visible to readbacks at `visibleAt`.
    case accepted(SimEffect, visibleAt: Duration)
    /// The device does not answer (comm loss, de-energised) or answers with an exception: nothing happens.
    case notAnswered
    /// The device has no such command bound.
    case unknownCommand
    case unknownDevice
}

/// The whole simulated site: one physical model per zone, the devices that look at them, and the
/// scenario's faults. Pure and deterministic: time moves only through `advance(to:)`, noise comes
/// from the seed, and the same calls give the same answers on every run.
///
/// Phase 2 wraps it in an actor or a `Mutex` and serves it over Modbus: each request first asks
/// `condition(device:)`, then `value(device:point:)` for each point, and turns writes into `command`.
/// A caller that reads the same points many times (the fault campaign) resolves them once with
/// `handle(device:point:)` and reads by handle: no names are hashed per read.
public struct SimulatedSite: Sendable {
    public let spec: SimSiteSpec
    /// Simulated time since the start.
    public private(set) var now: Duration = .zero
    /// In the spec's order; zones are independent, so the order they step in does not matter.
    private var zones: [ZoneModel]
    private let zoneIndex: [String: Int]
    private let devices: [DeviceEntry]
    private let deviceIndex: [String: Int]
    private let step: Duration
    private var tick: Int64 = 0
    private let noise: DeterministicNoise
    private var timeline: [ScheduledEvent]
    private var nextEvent = 0
    /// Per device (by index), in the order they began.
    private var deviceFaults: [[DeviceFault]]
    private var pointFaults: [[PointFault]]

    /// A device looked up once: its zone, and its points (sorted by name) with the noise keys hashed once.
    private struct DeviceEntry: Sendable {
        var spec: SimDeviceSpec
        var zone: Int
        var points: [String]
        var quantities: [SimQuantity]
        var pointIndex: [String: Int]
        /// `fnv1a("device.point")` and `fnv1a("fault:device.point")` per point.
        var noiseKeys: [UInt64]
        var faultNoiseKeys: [UInt64]
    }

    /// A device-level condition in force from `from` until `until`.
    private struct DeviceFault: Sendable {
        var condition: DeviceCondition
        var from: Duration
        var until: Duration?

        func inForce(at now: Duration) -> Bool { from <= now && (until.map { now < $0 } ?? true) }
    }

    /// A point-level misreading in force from `from` until `until`.
    private struct PointFault: Sendable {
        enum Kind: Sendable {
            case stuck(SimValue?), offline, outOfRange(Double?), noise(Double), drift(Double), set(SimValue)
        }
        /// The point's index in its device; nil: every point of the device.
        var point: Int?
        var kind: Kind
        var from: Duration
        var until: Duration?

        func inForce(at now: Duration) -> Bool { from <= now && (until.map { now < $0 } ?? true) }
        func covers(_ index: Int) -> Bool { point == nil || point == index }
        var isOffline: Bool { if case .offline = kind { true } else { false } }
    }

    /// One point of one device, resolved once with `handle(device:point:)`.
    public struct PointHandle: Sendable, Hashable {
        public let device: DeviceHandle
        let point: Int
    }

    /// One device, resolved once with `handle(device:)`.
    public struct DeviceHandle: Sendable, Hashable {
        let index: Int
    }

    /// Builds the site; throws the spec's and the scenario's problems (unknown devices, zones, strings).
    /// - Parameter minimumStep: the coarsest grid the caller can afford, when it is coarser than the zones ask for
    ///   (a month at 14,400x cannot integrate 100 ms steps in real time; a quiet room does not need them).
    public init(
        spec: SimSiteSpec, scenario: Scenario? = nil, seed: UInt64 = 1, minimumStep: Duration = .zero
    ) throws(SimulationSetupError) {
        var problems = spec.problems()
        if let scenario { problems += scenario.problems(against: spec) }
        guard problems.isEmpty else { throw SimulationSetupError(problems: problems) }
        self.spec = spec
        zones = spec.zones.map { zone in
            ZoneModel(
                name: zone.name, strings: zone.strings, feeds: zone.feeds, wiring: zone.wiring,
                parameters: zone.parameters)
        }
        let zoneIndex = Dictionary(uniqueKeysWithValues: spec.zones.enumerated().map { ($1.name, $0) })
        self.zoneIndex = zoneIndex
        devices = spec.devices.map { device in
            let points = device.bindings.points.keys.sorted()
            return DeviceEntry(
                spec: device, zone: zoneIndex[device.zone]!, points: points,
                quantities: points.map { device.bindings.points[$0]! },
                pointIndex: Dictionary(uniqueKeysWithValues: points.enumerated().map { ($1, $0) }),
                noiseKeys: points.map { DeterministicNoise.fnv1a("\(device.name).\($0)") },
                faultNoiseKeys: points.map { DeterministicNoise.fnv1a("fault:\(device.name).\($0)") })
        }
        deviceIndex = Dictionary(uniqueKeysWithValues: spec.devices.enumerated().map { ($1.name, $0) })
        deviceFaults = Array(repeating: [], count: spec.devices.count)
        pointFaults = Array(repeating: [], count: spec.devices.count)
        // One grid for the whole site so zones stay in step; the finest any zone asks for.
        self.step = max(spec.zones.map(\.parameters.step).min() ?? .milliseconds(100), minimumStep)
        self.noise = DeterministicNoise(seed: seed)
        self.timeline = scenario?.timeline ?? []
        applyEvents(upTo: .zero)
    }

    // MARK: time

    /// Moves simulated time forward to `time` (never back). Physics runs on a fixed grid, so the
    /// state at a time does not depend on how the advances were split.
    public mutating func advance(to time: Duration) {
        guard time > now else { return }
        let dt = step.secondsValue
        while step * Int(tick + 1) <= time {
            tick += 1
            let tickTime = step * Int(tick)
            for zone in zones.indices {
                zones[zone].step(dt: dt, time: tickTime)
                zones[zone].applyDue(tick: tick, time: tickTime)
            }
            // Faults that capture a reading (stuck) must see the time they start at.
            now = tickTime
            applyEvents(upTo: tickTime)
        }
        now = time
    }

    /// Moves simulated time forward by `interval`.
    public mutating func advance(by interval: Duration) {
        advance(to: now + interval)
    }

    private var gridTime: Duration { step * Int(tick) }

    private mutating func applyEvents(upTo time: Duration) {
        while nextEvent < timeline.count, timeline[nextEvent].at <= time {
            apply(timeline[nextEvent].event, at: time)
            nextEvent += 1
        }
    }

    private mutating func apply(_ event: ScenarioEvent, at time: Duration) {
        func until(_ length: Duration?) -> Duration? { length.map { time + $0 } }
        func fault(_ device: String, _ condition: DeviceCondition, _ length: Duration?) {
            guard let index = deviceIndex[device] else { return }
            deviceFaults[index].append(DeviceFault(condition: condition, from: time, until: until(length)))
        }
        switch event {
        case .thermalRunaway(let zone, let string):
            if let index = zoneIndex[zone] { zones[index].startRunaway(string: string, at: time) }
        case .offgas(let zone, let string, let pointOfNoReturn, let runawayAfter):
            if let index = zoneIndex[zone] {
                zones[index].startAbuse(
                    string: string, pointOfNoReturn: pointOfNoReturn, runawayAfter: runawayAfter, at: time)
            }
        case .commLoss(let device, let length):
            fault(device, .silent, length)
        case .slowDevice(let device, let delay, let length):
            fault(device, .slow(delay), length)
        case .exception(let device, let code, let length):
            fault(device, .exception(code), length)
        case .sensorFault(let device, let point, let mode, let length):
            guard let index = deviceIndex[device] else { return }
            let pointAt = point.flatMap { devices[index].pointIndex[$0] }
            if point != nil && pointAt == nil { return }  // `problems(against:)` names it
            let kind: PointFault.Kind
            switch mode {
            case .stuck:
                guard let pointAt else {
                    // A device-wide stuck fault freezes every point at what it reads now.
                    for key in devices[index].points.indices {
                        let frozen = value(PointHandle(device: DeviceHandle(index: index), point: key))
                        pointFaults[index].append(
                            PointFault(point: key, kind: .stuck(frozen), from: time, until: until(length)))
                    }
                    return
                }
                // Freeze what the point reads now.
                kind = .stuck(value(PointHandle(device: DeviceHandle(index: index), point: pointAt)))
            case .offline:
                if point == nil {
                    fault(device, .silent, length)
                    return
                }
                kind = .offline
            case .outOfRange(let number): kind = .outOfRange(number)
            case .noise(let amplitude): kind = .noise(amplitude)
            case .drift(let perMinute): kind = .drift(perMinute)
            }
            pointFaults[index].append(PointFault(point: pointAt, kind: kind, from: time, until: until(length)))
        case .set(let device, let point, let value, let length):
            guard let index = deviceIndex[device], let pointAt = devices[index].pointIndex[point] else { return }
            pointFaults[index].append(PointFault(point: pointAt, kind: .set(value), from: time, until: until(length)))
        case .abortSwitch(let zone, let length):
            if let index = zoneIndex[zone] { zones[index].abortSwitchHeldUntil = time + length }
        case .clockStep, .reload, .restart:
            // The daemon's, not the site's: `ScenarioRun` performs them.
            break
        }
    }

    // MARK: devices

    /// A device's handle, nil when the site has no such device.
    public func handle(device: String) -> DeviceHandle? {
        deviceIndex[device].map(DeviceHandle.init)
    }

    /// A point's handle (`point` or `point.bit`), nil when the device or the binding does not exist.
    public func handle(device: String, point: String) -> PointHandle? {
        guard let index = deviceIndex[device], let pointAt = devices[index].pointIndex[point] else { return nil }
        return PointHandle(device: DeviceHandle(index: index), point: pointAt)
    }

    /// How the device answers right now: a scenario fault, or silence when its feed is open.
    public func condition(device: String) -> DeviceCondition {
        guard let handle = handle(device: device) else { return .silent }
        return condition(handle)
    }

    public func condition(_ device: DeviceHandle) -> DeviceCondition {
        if let feed = devices[device.index].spec.poweredByFeed, !zones[devices[device.index].zone].feedClosed(feed) {
            return .silent
        }
        // The latest fault in force wins.
        return deviceFaults[device.index].last { $0.inForce(at: now) }?.condition ?? .answering
    }

    /// Whether a point fault has one of `device`'s points offline now, without computing any value (a device
    /// with a dead point stops answering as a whole).
    public func hasOfflinePoint(device: String) -> Bool {
        guard let handle = handle(device: device) else { return false }
        return hasOfflinePoint(handle)
    }

    public func hasOfflinePoint(_ device: DeviceHandle) -> Bool {
        let faults = pointFaults[device.index]
        guard faults.contains(where: { $0.isOffline && $0.inForce(at: now) }) else { return false }
        return devices[device.index].points.indices.contains { point in
            faults.last { $0.covers(point) && $0.inForce(at: now) }?.isOffline ?? false
        }
    }

    /// The value a device serves for a point (or `point.bit`); nil when the device or point has no binding.
    /// `.offline` when the device does not answer or the point is faulted offline.
    public func value(device: String, point: String) -> SimValue? {
        guard let handle = handle(device: device, point: point) else { return nil }
        return value(handle)
    }

    public func value(_ handle: PointHandle) -> SimValue? {
        let device = handle.device.index
        if condition(handle.device) == .silent { return .offline }
        guard let base = baseValue(device, point: handle.point) else { return nil }
        guard let fault = pointFaults[device].last(where: { $0.covers(handle.point) && $0.inForce(at: now) }) else {
            return base
        }
        switch fault.kind {
        case .set(let value): return value
        case .offline: return .offline
        case .stuck(let frozen): return frozen ?? base
        case .outOfRange(let number): return number.map { .number($0) } ?? .invalid
        case .noise(let amplitude):
            guard case .number(let number) = base else { return base }
            let key = devices[device].faultNoiseKeys[handle.point]
            return .number(number + amplitude * noise.uniform(key: key, tick: gridTime.milliseconds / 1000))
        case .drift(let perMinute):
            guard case .number(let number) = base else { return base }
            return .number(number + perMinute * (now - fault.from).secondsValue / 60)
        }
    }

    private func baseValue(_ device: Int, point: Int) -> SimValue? {
        switch devices[device].quantities[point].source {
        case .constant(let value):
            return value
        case .model(let kind, let index):
            let zone = devices[device].zone
            guard let value = zones[zone].read(kind, index: index) else { return nil }
            guard case .number(let number) = value else { return value }
            let halfWidth: Double
            switch kind {
            case .roomTemperature, .stringTemperature, .upsBatteryTemperature:
                halfWidth = zones[zone].parameters.temperatureNoise
            case .humidity: halfWidth = zones[zone].parameters.humidityNoise
            default: return value
            }
            // New noise once a simulated second, whatever the polling rate.
            let second = gridTime.milliseconds / 1000
            return .number(number + halfWidth * noise.uniform(key: devices[device].noiseKeys[point], tick: second))
        }
    }

    /// Points (and `point.bit`s) a device serves, sorted.
    public func points(device: String) -> [String] {
        deviceIndex[device].map { devices[$0].points } ?? []
    }

    /// Sends a command. Its effect reaches the zone's physics after the actuator's readback lag.
    @discardableResult
    public mutating func command(device: String, command: String) -> CommandOutcome {
        guard let handle = handle(device: device) else { return .unknownDevice }
        let zone = devices[handle.index].zone
        guard let effect = devices[handle.index].spec.bindings.commands[command] else { return .unknownCommand }
        switch condition(handle) {
        case .silent, .exception: return .notAnswered
        case .answering, .slow: break
        }
        let lag = Self.lag(of: effect, zones[zone].parameters.lags)
        // The effect takes hold on the first grid tick at or after now + lag.
        let due = now + lag
        let dueTick = max(Int64((due / step).rounded(.up)), tick)
        zones[zone].schedule(effect, tick: dueTick)
        if dueTick == tick { zones[zone].applyDue(tick: tick, time: now) }
        return .accepted(effect, visibleAt: max(step * Int(dueTick), now))
    }

    /// How long after it is accepted a command's effect shows in a readback; nil for an unknown command.
    public func lag(device: String, command: String) -> Duration? {
        guard let index = deviceIndex[device], let effect = devices[index].spec.bindings.commands[command] else {
            return nil
        }
        return Self.lag(of: effect, zones[devices[index].zone].parameters.lags)
    }

    /// The effect a command of a device has on the model, nil when the device or command is not bound.
    public func effect(device: String, command: String) -> SimEffect? {
        deviceIndex[device].flatMap { devices[$0].spec.bindings.commands[command] }
    }

    private static func lag(of effect: SimEffect, _ lags: ReadbackLags) -> Duration {
        switch effect {
        case .disconnectStrings, .connectStrings, .disconnectString, .connectString: return lags.strings
        case .startExhaust, .stopExhaust: return lags.exhaust
        case .startHVAC, .stopHVAC: return lags.hvac
        case .release, .abort, .resetPanel: return lags.panel
        case .openFeed, .closeFeed: return lags.feeds
        case .none: return .zero
        }
    }

    // MARK: views

    /// A read-only view of a zone, for the demo and for tests.
    public func zone(_ name: String) -> ZoneSnapshot? {
        zoneIndex[name].map { ZoneSnapshot(zones[$0]) }
    }

    /// What the model did on its own (venting, runaway, ignition, …) and which effects took hold, in time order.
    public var history: [ModelEvent] {
        zones.flatMap(\.events).sorted { ($0.at, $0.zone) < ($1.at, $1.zone) }
    }
}

/// The state of one zone's model at one moment.
public struct ZoneSnapshot: Sendable, Hashable {
    /// One battery string at that moment.
    public struct StringSnapshot: Sendable, Hashable {
        public var state: StringState
        public var temperature: Double
        public var connected: Bool
        public var pastPointOfNoReturn: Bool
        /// Off-gas emission, % LFL per second.
        public var emission: Double
        public var flaming: Bool
    }

    public var name: String
    public var strings: [StringSnapshot]
    public var roomTemperature: Double
    public var lflPercent: Double
    public var smokeObscuration: Double
    public var smokeLevel: String
    public var flames: Bool
    public var agentConcentration: Double
    public var panelStatus: PanelStatus
    public var hvacRunning: Bool
    public var exhaustRunning: Bool
    /// Per feed, 1-based order: true when closed (energised).
    public var feedsClosed: [Bool]

    init(_ zone: ZoneModel) {
        name = zone.name
        strings = zone.strings.map {
            StringSnapshot(
                state: $0.state, temperature: $0.temperature, connected: $0.connected,
                pastPointOfNoReturn: $0.pastPointOfNoReturn, emission: $0.emission, flaming: $0.flaming)
        }
        roomTemperature = zone.roomTemperature
        lflPercent = zone.lflPercent
        smokeObscuration = zone.smoke
        smokeLevel = zone.smokeLevel
        flames = zone.flaming
        agentConcentration = zone.agent
        panelStatus = zone.panelStatus
        hvacRunning = zone.hvacRunning
        exhaustRunning = zone.exhaustRunning
        feedsClosed = zone.feedsClosed
    }
}

/// Why a site (or a scenario on it) cannot be simulated: each problem names the file:line, device, zone or field
/// where it is known, and what to do.
public struct SimulationSetupError: Error, Sendable, Hashable, CustomStringConvertible {
    public var problems: [String]

    public init(problems: [String]) { self.problems = problems }

    public var description: String { problems.joined(separator: "\n") }
}

extension Scenario {
    /// Events and expectations that name devices, points, zones or strings the site does not have,
    /// as `file:line: …` lines.
    public func problems(against site: SimSiteSpec) -> [String] {
        var problems: [String] = []
        let zones = Dictionary(site.zones.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let devices = Dictionary(site.devices.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        func at(_ line: Int) -> String { "\(file):\(line)" }
        func checkZone(_ name: String, string: Int?, line: Int) {
            guard let zone = zones[name] else {
                let known = zones.keys.sorted().joined(separator: ", ")
                problems.append("\(at(line)): zone '\(name)' is not on the site; zones: \(known)")
                return
            }
            if let string, string > zone.strings {
                problems.append("\(at(line)): zone '\(name)' has \(zone.strings) strings, not \(string)")
            }
        }
        func checkDevice(_ name: String, point: String? = nil, command: String? = nil, line: Int) {
            guard let device = devices[name] else {
                let known = devices.keys.sorted().joined(separator: ", ")
                problems.append("\(at(line)): device '\(name)' is not on the site; devices: \(known)")
                return
            }
            if let command, device.bindings.commands[command] == nil {
                problems.append(
                    "\(at(line)): device '\(name)' has no command '\(command)'; commands: "
                        + device.bindings.commands.keys.sorted().joined(separator: ", "))
            }
            if let point, device.bindings.points[point] == nil {
                problems.append(
                    "\(at(line)): device '\(name)' serves no point '\(point)'; points: "
                        + device.bindings.points.keys.sorted().joined(separator: ", "))
            }
        }
        for item in timeline {
            switch item.event {
            case .thermalRunaway(let zone, let string), .offgas(let zone, let string, _, _):
                checkZone(zone, string: string, line: item.line)
            case .abortSwitch(let zone, _): checkZone(zone, string: nil, line: item.line)
            case .clockStep, .reload, .restart: break
            case .sensorFault(let device, let point, _, _): checkDevice(device, point: point, line: item.line)
            case .set(let device, let point, _, _): checkDevice(device, point: point, line: item.line)
            case .commLoss(let device, _), .slowDevice(let device, _, _), .exception(let device, _, _):
                checkDevice(device, point: nil, line: item.line)
            }
        }
        for item in expectations {
            switch item.expectation {
            case .zoneReaches(let zone, _, _, _), .zoneNeverReaches(let zone, _), .zoneStays(let zone, _):
                checkZone(zone, string: nil, line: item.line)
            case .writes(let target, _, _), .noWrites(let target):
                checkDevice(target.device, command: target.command, line: item.line)
            case .writeOrder(let target, let earlier), .writeGap(let target, let earlier, _):
                checkDevice(target.device, command: target.command, line: item.line)
                checkDevice(earlier.device, command: earlier.command, line: item.line)
            case .trouble(let device, _), .noTrouble(let device):
                checkDevice(device, point: nil, line: item.line)
            }
        }
        return problems
    }
}

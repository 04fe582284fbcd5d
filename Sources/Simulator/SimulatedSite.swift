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
public struct SimulatedSite: Sendable {
    public let spec: SimSiteSpec
    /// Simulated time since the start.
    public private(set) var now: Duration = .zero
    private var zones: [String: ZoneModel]
    private var devices: [String: SimDeviceSpec]
    private let step: Duration
    private var tick: Int64 = 0
    private let noise: DeterministicNoise
    private var timeline: [ScheduledEvent]
    private var nextEvent = 0
    private var deviceFaults: [DeviceFault] = []
    private var pointFaults: [PointFault] = []
    private var events: [ModelEvent] = []

    /// A device-level condition in force from `from` until `until`.
    private struct DeviceFault: Sendable {
        var device: String
        var condition: DeviceCondition
        var from: Duration
        var until: Duration?
    }

    /// A point-level misreading in force from `from` until `until`.
    private struct PointFault: Sendable {
        enum Kind: Sendable {
            case stuck(SimValue?), offline, outOfRange(Double?), noise(Double), drift(Double), set(SimValue)
        }
        var device: String
        /// nil: every point of the device.
        var point: String?
        var kind: Kind
        var from: Duration
        var until: Duration?
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
        var zones: [String: ZoneModel] = [:]
        for zone in spec.zones {
            zones[zone.name] = ZoneModel(
                name: zone.name, strings: zone.strings, feeds: zone.feeds, wiring: zone.wiring,
                parameters: zone.parameters)
        }
        self.zones = zones
        self.devices = Dictionary(uniqueKeysWithValues: spec.devices.map { ($0.name, $0) })
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
        while step * Int(tick + 1) <= time {
            tick += 1
            let tickTime = step * Int(tick)
            for name in zones.keys.sorted() {
                zones[name]!.step(dt: step.secondsValue, time: tickTime)
                zones[name]!.applyDue(tick: tick, time: tickTime)
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
        switch event {
        case .thermalRunaway(let zone, let string):
            zones[zone]?.startRunaway(string: string, at: time)
        case .offgas(let zone, let string, let pointOfNoReturn, let runawayAfter):
            zones[zone]?.startAbuse(
                string: string, pointOfNoReturn: pointOfNoReturn, runawayAfter: runawayAfter, at: time)
        case .commLoss(let device, let length):
            deviceFaults.append(DeviceFault(device: device, condition: .silent, from: time, until: until(length)))
        case .slowDevice(let device, let delay, let length):
            deviceFaults.append(DeviceFault(device: device, condition: .slow(delay), from: time, until: until(length)))
        case .exception(let device, let code, let length):
            deviceFaults.append(
                DeviceFault(device: device, condition: .exception(code), from: time, until: until(length)))
        case .sensorFault(let device, let point, let mode, let length):
            let kind: PointFault.Kind
            switch mode {
            case .stuck:
                // Freeze what the point reads now; a device-wide stuck fault freezes every point (below).
                kind = .stuck(point.flatMap { value(device: device, point: $0) })
            case .offline:
                if point == nil {
                    deviceFaults.append(
                        DeviceFault(device: device, condition: .silent, from: time, until: until(length)))
                    return
                }
                kind = .offline
            case .outOfRange(let number): kind = .outOfRange(number)
            case .noise(let amplitude): kind = .noise(amplitude)
            case .drift(let perMinute): kind = .drift(perMinute)
            }
            if point == nil, case .stuck = kind {
                for key in (devices[device]?.bindings.points.keys.sorted() ?? []) {
                    pointFaults.append(
                        PointFault(
                            device: device, point: key, kind: .stuck(value(device: device, point: key)), from: time,
                            until: until(length)))
                }
                return
            }
            pointFaults.append(PointFault(device: device, point: point, kind: kind, from: time, until: until(length)))
        case .set(let device, let point, let value, let length):
            pointFaults.append(
                PointFault(device: device, point: point, kind: .set(value), from: time, until: until(length)))
        case .abortSwitch(let zone, let length):
            zones[zone]?.abortSwitchHeldUntil = time + length
        case .clockStep, .reload, .restart:
            // The daemon's, not the site's: `ScenarioRun` performs them.
            break
        }
    }

    // MARK: devices

    /// How the device answers right now: a scenario fault, or silence when its feed is open.
    public func condition(device: String) -> DeviceCondition {
        guard let spec = devices[device] else { return .silent }
        if let feed = spec.poweredByFeed, zones[spec.zone]?.feedClosed(feed) == false { return .silent }
        // The latest fault in force wins.
        let active = deviceFaults.last { $0.device == device && $0.from <= now && ($0.until.map { now < $0 } ?? true) }
        return active?.condition ?? .answering
    }

    /// The value a device serves for a point (or `point.bit`); nil when the device or point has no binding.
    /// `.offline` when the device does not answer or the point is faulted offline.
    /// Whether a point fault has one of `device`'s points offline now, without computing any value (a device
    /// with a dead point stops answering as a whole).
    public func hasOfflinePoint(device: String) -> Bool {
        let inForce = { (fault: PointFault) in fault.from <= self.now && (fault.until.map { self.now < $0 } ?? true) }
        guard
            pointFaults.contains(where: {
                if case .offline = $0.kind { $0.device == device && inForce($0) } else { false }
            }), let spec = devices[device]
        else { return false }
        for point in spec.bindings.points.keys {
            let fault = pointFaults.last { $0.device == device && ($0.point == nil || $0.point == point) && inForce($0) }
            if case .offline? = fault?.kind { return true }
        }
        return false
    }

    public func value(device: String, point: String) -> SimValue? {
        guard let spec = devices[device], let quantity = spec.bindings.points[point] else { return nil }
        if condition(device: device) == .silent { return .offline }
        let base = baseValue(spec, point: point, quantity: quantity)
        guard let base else { return nil }
        let fault = pointFaults.last {
            $0.device == device && ($0.point == nil || $0.point == point) && $0.from <= now
                && ($0.until.map { now < $0 } ?? true)
        }
        guard let fault else { return base }
        switch fault.kind {
        case .set(let value): return value
        case .offline: return .offline
        case .stuck(let frozen): return frozen ?? base
        case .outOfRange(let number): return number.map { .number($0) } ?? .invalid
        case .noise(let amplitude):
            guard case .number(let number) = base else { return base }
            return .number(
                number + amplitude * noise.uniform("fault:\(device).\(point)", tick: gridTime.milliseconds / 1000))
        case .drift(let perMinute):
            guard case .number(let number) = base else { return base }
            return .number(number + perMinute * (now - fault.from).secondsValue / 60)
        }
    }

    private func baseValue(_ spec: SimDeviceSpec, point: String, quantity: SimQuantity) -> SimValue? {
        switch quantity.source {
        case .constant(let value):
            return value
        case .model(let kind, let index):
            guard let zone = zones[spec.zone], let value = zone.read(kind, index: index) else { return nil }
            guard case .number(let number) = value else { return value }
            let halfWidth: Double
            switch kind {
            case .roomTemperature, .stringTemperature, .upsBatteryTemperature:
                halfWidth = zone.parameters.temperatureNoise
            case .humidity: halfWidth = zone.parameters.humidityNoise
            default: return value
            }
            // New noise once a simulated second, whatever the polling rate.
            let second = gridTime.milliseconds / 1000
            return .number(number + halfWidth * noise.uniform("\(spec.name).\(point)", tick: second))
        }
    }

    /// Points (and `point.bit`s) a device serves, sorted.
    public func points(device: String) -> [String] {
        devices[device]?.bindings.points.keys.sorted() ?? []
    }

    /// Sends a command. Its effect reaches the zone's physics after the actuator's readback lag.
    @discardableResult
    public mutating func command(device: String, command: String) -> CommandOutcome {
        guard let spec = devices[device], var zone = zones[spec.zone] else { return .unknownDevice }
        guard let effect = spec.bindings.commands[command] else { return .unknownCommand }
        switch condition(device: device) {
        case .silent, .exception: return .notAnswered
        case .answering, .slow: break
        }
        let lag = Self.lag(of: effect, zone.parameters.lags)
        // The effect takes hold on the first grid tick at or after now + lag.
        let due = now + lag
        let dueTick = max(Int64((due / step).rounded(.up)), tick)
        zone.schedule(effect, tick: dueTick)
        if dueTick == tick { zone.applyDue(tick: tick, time: now) }
        zones[spec.zone] = zone
        return .accepted(effect, visibleAt: max(step * Int(dueTick), now))
    }

    /// How long after it is accepted a command's effect shows in a readback; nil for an unknown command.
    public func lag(device: String, command: String) -> Duration? {
        guard let spec = devices[device], let zone = zones[spec.zone], let effect = spec.bindings.commands[command]
        else { return nil }
        return Self.lag(of: effect, zone.parameters.lags)
    }

    /// The effect a command of a device has on the model, nil when the device or command is not bound.
    public func effect(device: String, command: String) -> SimEffect? {
        devices[device]?.bindings.commands[command]
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
        guard let zone = zones[name] else { return nil }
        return ZoneSnapshot(zone)
    }

    /// What the model did on its own (venting, runaway, ignition, …) and which effects took hold, in time order.
    public var history: [ModelEvent] {
        zones.values.flatMap(\.events).sorted { ($0.at, $0.zone) < ($1.at, $1.zone) }
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

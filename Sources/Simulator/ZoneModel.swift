import Foundation
import SiteConfig

/// Where a battery string is on the road from normal to burnt.
public enum StringState: String, Sendable, Hashable, CaseIterable, Comparable {
    /// Charging or resting, near room temperature.
    case normal
    /// Being abused (overcharge, internal fault), heating, not yet venting.
    case abused
    /// Releasing off-gas: the window in which disconnecting can still pull the cell back.
    case venting
    /// Self-heating past ~150 °C; nothing electrical stops it any more.
    case runaway
    /// Burnt out; cooling.
    case burnt

    private var rank: Int { Self.allCases.firstIndex(of: self)! }
    public static func < (lhs: StringState, rhs: StringState) -> Bool { lhs.rank < rhs.rank }
}

/// The suppression panel's status, as releasing panels show it (DEVICE-FACTS §7).
public enum PanelStatus: String, Sendable, Hashable, CaseIterable {
    case normal
    /// One of the panel's cross-zoned detectors in alarm.
    case preAlert = "pre_alert"
    /// Both detectors in alarm: the panel's own double knock.
    case alarm
    /// Countdown before discharge, abortable.
    case preDischarge = "pre_discharge"
    case released
    /// A countdown was aborted.
    case abort
    /// Trouble: the panel cannot release (set by scenarios).
    case fault
}

/// What the simulator did on its own, for the demo's summary and for tests.
public struct ModelEvent: Sendable, Hashable, CustomStringConvertible {
    /// What happened.
    public enum Kind: String, Sendable, Hashable {
        case abuseStarted = "abuse_started"
        case ventingStarted = "venting_started"
        case pointOfNoReturn = "point_of_no_return"
        case pulledBack = "pulled_back"
        case runaway
        case ignition
        case knockedDown = "knocked_down"
        case burnt
        case released
        case effectApplied = "effect_applied"
    }

    /// Time since the simulation started.
    public var at: Duration
    public var zone: String
    public var kind: Kind
    /// The string (1-based), when the event is about one.
    public var string: Int?
    /// The effect, for `effectApplied`.
    public var effect: SimEffect?

    public var description: String {
        var text = "\(DurationText.format(at)) \(zone) \(kind.rawValue)"
        if let string { text += " string \(string)" }
        if let effect { text += " \(effect)" }
        return text
    }
}

/// Which feed (1-based) powers which of the zone's loads; nil means on a supply the zone's power cut
/// does not touch (exhaust fans usually sit on the life-safety supply).
public struct ZoneWiring: Sendable, Hashable {
    /// The UPS charger: with it open the strings stop charging (and stop being abused by charge).
    public var chargerFeed: Int?
    public var hvacFeed: Int?
    public var exhaustFeed: Int?

    public init(chargerFeed: Int? = 1, hvacFeed: Int? = 2, exhaustFeed: Int? = nil) {
        self.chargerFeed = chargerFeed
        self.hvacFeed = hvacFeed
        self.exhaustFeed = exhaustFeed
    }
}

/// One battery string's physical state.
struct BatteryString: Sendable, Hashable {
    var temperature: Double
    var state: StringState = .normal
    var connected = true
    /// An abuse (offgas event) is on; it heats the string while the string is connected and charging.
    var abused = false
    var abuseTime = 0.0
    var ventTime = 0.0
    /// Venting time with the abuse still on; past `pointOfNoReturn` the cell runs away regardless.
    var drivenVentTime = 0.0
    var pastPointOfNoReturn = false
    var pointOfNoReturn: Double
    var runawayAfterVenting: Double
    var emission = 0.0
    var runawayTime = 0.0
    var flaming = false
    var propagated = false
}

/// The physical model of one zone: strings, room air, gas, smoke, agent, panel, HVAC, exhaust, feeds.
///
/// Pure and deterministic: time only moves through `step(dt:)`; effects wait in a queue until their
/// readback lag has passed.
struct ZoneModel: Sendable {
    let name: String
    let parameters: ModelParameters
    let wiring: ZoneWiring
    var strings: [BatteryString]
    var feedsClosed: [Bool]
    var roomTemperature: Double
    var lflPercent = 0.0
    var smoke = 0.0
    var agent = 0.0
    var hvacCommanded = true
    var exhaustCommanded = false
    var panelMode: PanelMode = .automatic
    /// Someone holds the panel's abort switch until this time (scenario event `abort_switch`).
    var abortSwitchHeldUntil: Duration?
    /// The time of the last `step`, to tell whether the switch is still held.
    var clock: Duration = .zero
    var panelSmokeLatched = false
    var panelHeatLatched = false
    /// Effects accepted but not yet visible, with the tick they take hold at.
    var pending: [(tick: Int64, effect: SimEffect)] = []
    var events: [ModelEvent] = []

    enum PanelMode: Sendable, Hashable {
        case automatic
        case preDischarge(remaining: Double)
        case released
        case aborted
    }

    init(name: String, strings count: Int, feeds: Int, wiring: ZoneWiring, parameters: ModelParameters) {
        self.name = name
        self.parameters = parameters
        self.wiring = wiring
        roomTemperature = parameters.hvacSetpoint
        let start = parameters.hvacSetpoint + parameters.chargingRise
        strings = Array(
            repeating: BatteryString(
                temperature: start, pointOfNoReturn: parameters.pointOfNoReturn.secondsValue,
                runawayAfterVenting: parameters.runawayAfterVenting.secondsValue),
            count: count)
        feedsClosed = Array(repeating: true, count: feeds)
    }

    // MARK: derived state

    func feedClosed(_ feed: Int?) -> Bool {
        guard let feed else { return true }
        return feedsClosed.indices.contains(feed - 1) ? feedsClosed[feed - 1] : true
    }

    var chargerPowered: Bool { feedClosed(wiring.chargerFeed) }
    var hvacRunning: Bool { hvacCommanded && feedClosed(wiring.hvacFeed) }
    var exhaustRunning: Bool { exhaustCommanded && feedClosed(wiring.exhaustFeed) }
    var dampersOpen: Bool { hvacRunning }
    var flaming: Bool { strings.contains { $0.flaming } }
    var agentHolds: Bool { agent >= parameters.agentHoldFraction }
    var hottest: Double {
        guard var top = strings.first?.temperature else { return roomTemperature }
        for string in strings { top = max(top, string.temperature) }
        return top
    }

    var smokeLevel: String {
        let p = parameters
        if smoke >= p.smokeFire2 { return "fire2" }
        if smoke >= p.smokeFire1 { return "fire1" }
        if smoke >= p.smokeAction { return "action" }
        if smoke >= p.smokeAlert { return "alert" }
        return "normal"
    }

    var abortSwitchHeld: Bool { abortSwitchHeldUntil.map { clock < $0 } ?? false }

    var panelStatus: PanelStatus {
        switch panelMode {
        case .preDischarge: return abortSwitchHeld ? .abort : .preDischarge
        case .released: return .released
        case .aborted: return .abort
        case .automatic:
            if panelSmokeLatched && panelHeatLatched { return .alarm }
            if panelSmokeLatched || panelHeatLatched { return .preAlert }
            return .normal
        }
    }

    // MARK: reading

    /// The string with a 1-based `index`, nil when the zone has none.
    private func string(at index: Int) -> BatteryString? {
        strings.indices.contains(index - 1) ? strings[index - 1] : nil
    }

    /// The current value of a quantity; nil when the index names no string or feed of this zone.
    func read(_ kind: SimQuantity.Kind, index: Int?) -> SimValue? {
        switch kind {
        case .stringTemperature:
            guard let index else { return .number(hottest) }
            return string(at: index).map { .number($0.temperature) }
        case .stringState:
            guard let index else { return .name((strings.map(\.state).max() ?? .normal).rawValue) }
            return string(at: index).map { .name($0.state.rawValue) }
        case .contactorClosed:
            guard let index else { return .flag(strings.contains { $0.connected }) }
            return string(at: index).map { .flag($0.connected) }
        case .contactorState:
            let closed = index.map { string(at: $0)?.connected } ?? strings.contains { $0.connected }
            return closed.map { .name($0 ? "closed" : "open") }
        case .charging: return .flag(chargerPowered && strings.contains { $0.connected })
        case .roomTemperature: return .number(roomTemperature)
        case .humidity: return .number(parameters.humidity)
        case .offgasState: return .name(lflPercent >= parameters.offgasDetectLFL ? "detected" : "clear")
        case .offgasDetected: return .flag(lflPercent >= parameters.offgasDetectLFL)
        case .lflPercent: return .number(min(lflPercent, 100))
        case .smokeObscuration: return .number(smoke)
        case .smokeLevel: return .name(smokeLevel)
        case .flames: return .flag(flaming)
        case .panelStatus: return .name(panelStatus.rawValue)
        case .panelFireInput: return .flag(panelSmokeLatched && panelHeatLatched)
        case .panelAbortSwitch: return .flag(abortSwitchHeld)
        case .panelReleased: return .flag(panelMode == .released)
        case .agentConcentration: return .number(agent)
        case .relay:
            guard let index, feedsClosed.indices.contains(index - 1) else { return nil }
            return .flag(!feedsClosed[index - 1])
        case .feedClosed:
            guard let index, feedsClosed.indices.contains(index - 1) else { return nil }
            return .flag(feedsClosed[index - 1])
        case .hvacRunning: return .flag(hvacRunning)
        case .dampersOpen: return .flag(dampersOpen)
        case .exhaustRunning: return .flag(exhaustRunning)
        case .bmsState: return .name(strings.contains { $0.connected } ? "connected" : "disconnected")
        case .bmsOverTempWarning: return .flag(hottest >= parameters.bmsOverTempWarning)
        case .bmsOverTempAlarm: return .flag(hottest >= parameters.bmsOverTempAlarm)
        case .upsBatteryTemperature: return .number(hottest)
        case .upsBatteryOvertemp: return .flag(hottest >= parameters.upsBatteryOverTemp)
        case .upsOnBattery: return .flag(!chargerPowered)
        case .upsOnline: return .flag(chargerPowered)
        }
    }

    // MARK: scenario events

    /// Starts an abuse of string `index` that vents after `ventDelay` and runs away unless pulled back
    /// before its point of no return.
    mutating func startAbuse(string index: Int, pointOfNoReturn: Duration?, runawayAfter: Duration?, at time: Duration)
    {
        guard strings.indices.contains(index - 1) else { return }
        var string = strings[index - 1]
        guard string.state < .runaway else { return }
        string.abused = true
        if string.state == .normal {
            string.state = .abused
            string.abuseTime = 0
        }
        if let pointOfNoReturn { string.pointOfNoReturn = pointOfNoReturn.secondsValue }
        if let runawayAfter { string.runawayAfterVenting = runawayAfter.secondsValue }
        strings[index - 1] = string
        events.append(ModelEvent(at: time, zone: name, kind: .abuseStarted, string: index))
    }

    /// Puts string `index` straight into runaway (an internal short, a neighbour's fire).
    mutating func startRunaway(string index: Int, at time: Duration) {
        guard strings.indices.contains(index - 1), strings[index - 1].state < .runaway else { return }
        strings[index - 1].state = .runaway
        strings[index - 1].runawayTime = 0
        strings[index - 1].pastPointOfNoReturn = true
        events.append(ModelEvent(at: time, zone: name, kind: .runaway, string: index))
    }

    // MARK: effects

    mutating func schedule(_ effect: SimEffect, tick: Int64) {
        pending.append((tick, effect))
    }

    mutating func applyDue(tick: Int64, time: Duration) {
        guard pending.contains(where: { $0.tick <= tick }) else { return }
        let due = pending.filter { $0.tick <= tick }
        pending.removeAll { $0.tick <= tick }
        for item in due {
            apply(item.effect)
            events.append(ModelEvent(at: time, zone: name, kind: .effectApplied, effect: item.effect))
        }
    }

    mutating func apply(_ effect: SimEffect) {
        switch effect {
        case .disconnectStrings: for i in strings.indices { strings[i].connected = false }
        case .connectStrings: for i in strings.indices { strings[i].connected = true }
        case .disconnectString(let index):
            if strings.indices.contains(index - 1) { strings[index - 1].connected = false }
        case .connectString(let index): if strings.indices.contains(index - 1) { strings[index - 1].connected = true }
        case .startExhaust: exhaustCommanded = true
        case .stopExhaust: exhaustCommanded = false
        case .stopHVAC: hvacCommanded = false
        case .startHVAC: hvacCommanded = true
        case .release:
            switch panelMode {
            case .released, .preDischarge: break
            case .automatic, .aborted:
                if parameters.panelPreDischarge > .zero {
                    panelMode = .preDischarge(remaining: parameters.panelPreDischarge.secondsValue)
                } else {
                    discharge()
                }
            }
        case .abort:
            // Abort has no effect once release has begun (DEVICE-FACTS §7).
            if case .preDischarge = panelMode { panelMode = .aborted }
        case .resetPanel:
            if panelMode != .released {
                panelMode = .automatic
                panelSmokeLatched = false
                panelHeatLatched = false
            }
        case .openFeed(let index): if feedsClosed.indices.contains(index - 1) { feedsClosed[index - 1] = false }
        case .closeFeed(let index): if feedsClosed.indices.contains(index - 1) { feedsClosed[index - 1] = true }
        case .none: break
        }
    }

    private mutating func discharge() {
        panelMode = .released
        agent = 1.0
        // Releasing panels shut down ventilation that would carry the agent away (NFPA 2001 interlock).
        exhaustCommanded = false
        hvacCommanded = false
    }

    // MARK: physics

    /// Advances the zone by `dt` seconds (explicit Euler; `dt` is far below every time constant).
    mutating func step(dt: Double, time: Duration) {
        clock = time
        let p = parameters
        let charging = chargerPowered

        for i in strings.indices {
            stepString(i, dt: dt, charging: charging, time: time)
        }
        // A runaway heats its neighbour until that one runs away too.
        for i in strings.indices
        where strings[i].state == .runaway && !strings[i].propagated
            && strings[i].runawayTime >= p.propagationDelay.secondsValue
        {
            strings[i].propagated = true
            if i + 1 < strings.count { startRunaway(string: i + 2, at: time) }
        }
        // Flames: vented gas of a runaway ignites unless the agent holds the room.
        for i in strings.indices {
            if strings[i].state == .runaway {
                if agentHolds {
                    if strings[i].flaming {
                        strings[i].flaming = false
                        events.append(ModelEvent(at: time, zone: name, kind: .knockedDown, string: i + 1))
                    }
                } else if !strings[i].flaming && strings[i].runawayTime >= p.ignitionDelay.secondsValue {
                    strings[i].flaming = true
                    events.append(ModelEvent(at: time, zone: name, kind: .ignition, string: i + 1))
                }
            } else {
                strings[i].flaming = false
            }
        }

        let burning = Double(strings.filter(\.flaming).count)
        let smouldering = Double(strings.filter { $0.state == .runaway && !$0.flaming }.count)
        let airChange = p.leakageRate + (dampersOpen ? p.hvacAirRate : 0) + (exhaustRunning ? p.exhaustAirRate : 0)

        // Room air: HVAC pulls toward its setpoint, hot strings and flames push up.
        let (target, tau) =
            hvacRunning
            ? (p.hvacSetpoint, p.roomTauWithHVAC.secondsValue) : (p.outsideTemperature, p.roomTauWithoutHVAC.secondsValue)
        var dRoom = (target - roomTemperature) / tau + burning * p.flameHeating
        // Normal charging heat is the design load HVAC is sized for; only heat beyond it warms the room.
        for string in strings {
            dRoom += max(string.temperature - roomTemperature - p.chargingRise, 0) / p.stringToRoomTau.secondsValue
        }
        roomTemperature += dRoom * dt

        // Off-gas: emitted by venting strings, carried out by air changes, burnt by flames.
        let emission = strings.reduce(0) { $0 + $1.emission }
        lflPercent += (emission - lflPercent * (airChange + (burning > 0 ? 0.1 : 0))) * dt
        lflPercent = max(lflPercent, 0)

        // Smoke: made by flames (little by a smouldering runaway), knocked down by the agent.
        let knockDown = agentHolds ? 1 / p.agentSmokeTau.secondsValue : 0
        smoke += (burning * p.flameSmoke + smouldering * p.runawaySmoke - smoke * (airChange + knockDown)) * dt
        smoke = max(smoke, 0)

        // Agent: leaks away slowly with dampers shut, fast with them open.
        if agent > 0 {
            let loss =
                1 / p.agentHoldTau.secondsValue + (dampersOpen ? p.hvacAirRate : 0) + (exhaustRunning ? p.exhaustAirRate : 0)
            agent = max(agent - agent * loss * dt, 0)
        }

        // The panel's own detectors latch, as a releasing panel's do.
        if smoke >= p.smokeFire1 { panelSmokeLatched = true }
        if roomTemperature >= p.panelHeatDetector { panelHeatLatched = true }
        if case .preDischarge(let remaining) = panelMode {
            if abortSwitchHeld {
                // The panel's own delay in "AHJ" abort mode: stopped while held, in full again when let go.
                panelMode = .preDischarge(remaining: p.panelPreDischarge.secondsValue)
            } else if remaining - dt <= 0 {
                discharge()
                events.append(ModelEvent(at: time, zone: name, kind: .released))
            } else {
                panelMode = .preDischarge(remaining: remaining - dt)
            }
        }
    }

    private mutating func stepString(_ i: Int, dt: Double, charging: Bool, time: Duration) {
        let p = parameters
        var s = strings[i]
        let driven = s.abused && s.connected && charging
        let rest = roomTemperature + (s.connected && charging ? p.chargingRise : 0)
        let relax = (rest - s.temperature) / p.stringTau.secondsValue * dt

        switch s.state {
        case .normal:
            s.temperature += relax
        case .abused:
            if driven {
                s.abuseTime += dt
                s.temperature += p.abuseHeating * dt
                if s.abuseTime >= p.ventDelay.secondsValue {
                    s.state = .venting
                    s.ventTime = 0
                    s.drivenVentTime = 0
                    s.emission = p.ventEmission
                    s.pastPointOfNoReturn = s.pointOfNoReturn <= 0
                    events.append(ModelEvent(at: time, zone: name, kind: .ventingStarted, string: i + 1))
                    if s.pastPointOfNoReturn {
                        events.append(ModelEvent(at: time, zone: name, kind: .pointOfNoReturn, string: i + 1))
                    }
                }
            } else {
                // The abuse stopped before the first venting: nothing happened.
                s.state = .normal
                s.abused = false
                s.temperature += relax
            }
        case .venting:
            s.ventTime += dt
            if driven && !s.pastPointOfNoReturn {
                s.drivenVentTime += dt
                if s.drivenVentTime >= s.pointOfNoReturn {
                    s.pastPointOfNoReturn = true
                    events.append(ModelEvent(at: time, zone: name, kind: .pointOfNoReturn, string: i + 1))
                }
            }
            if driven || s.pastPointOfNoReturn {
                s.temperature += p.abuseHeating * dt
                s.emission = p.ventEmission
                if s.ventTime >= s.runawayAfterVenting {
                    s.state = .runaway
                    s.runawayTime = 0
                    events.append(ModelEvent(at: time, zone: name, kind: .runaway, string: i + 1))
                }
            } else {
                // Pulled back: the cell cools and off-gassing declines (DNV GL, DEVICE-FACTS §6).
                s.temperature += relax
                s.emission *= exp(-dt / p.pullBackTau.secondsValue)
                if s.emission < p.ventEmission * 0.01 {
                    s.emission = 0
                    s.state = .normal
                    s.abused = false
                    events.append(ModelEvent(at: time, zone: name, kind: .pulledBack, string: i + 1))
                }
            }
        case .runaway:
            s.runawayTime += dt
            s.temperature += (p.runawayPeak - s.temperature) * (1 - exp(-dt / p.runawayTau.secondsValue))
            s.emission = s.flaming ? 0 : p.runawayEmission
            if s.runawayTime >= p.burnDuration.secondsValue {
                s.state = .burnt
                s.emission = 0
                s.flaming = false
                events.append(ModelEvent(at: time, zone: name, kind: .burnt, string: i + 1))
            }
        case .burnt:
            s.temperature += (roomTemperature - s.temperature) / p.stringTau.secondsValue * dt
        }
        strings[i] = s
    }
}

import Foundation

/// A physical quantity of a zone's model that a device point can serve, written in profiles as
/// `simulate: <name>` or `simulate: <name>[i]` (1-based string or feed number), or `simulate: const <value>`.
///
/// These are physics, not vendors: a SunSpec string temperature and an APC battery temperature both
/// serve `string_temperature`-like quantities; which register carries them is the profile's business.
public struct SimQuantity: Sendable, Hashable, CustomStringConvertible {
    /// The kinds of quantity. The raw value is the name used in YAML.
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        /// °C of string i; without an index the hottest string.
        case stringTemperature = "string_temperature"
        /// `normal|abused|venting|runaway|burnt` of string i; without an index the worst string.
        case stringState = "string_state"
        /// Flag: string i's contactor closed; without an index, any string connected.
        case contactorClosed = "contactor_closed"
        /// `closed|open` of string i's contactor; without an index `closed` if any string is connected.
        case contactorState = "contactor_state"
        /// Flag: strings connected and the charger powered.
        case charging = "charging"
        /// Room air, °C.
        case roomTemperature = "room_temperature"
        /// Room air, %RH.
        case humidity = "humidity"
        /// `clear|detected`: an off-gas detector's state.
        case offgasState = "offgas_state"
        /// Flag: off-gas detected.
        case offgasDetected = "offgas_detected"
        /// Flammable gas in the room, % of the lower flammability limit.
        case lflPercent = "lfl_percent"
        /// Smoke, %obs/m.
        case smokeObscuration = "smoke_obscuration"
        /// `normal|alert|action|fire1|fire2`: an aspirating detector's level.
        case smokeLevel = "smoke_level"
        /// Flag: flames in the room (for views and tests; no real device reports this directly).
        case flames = "flames"
        /// `normal|pre_alert|alarm|pre_discharge|released|abort|fault`.
        case panelStatus = "panel_status"
        /// Flag: the panel's own cross-zoned detectors are both in alarm.
        case panelFireInput = "panel_fire_input"
        /// Flag: someone holds the panel's abort switch (scenario event `abort_switch`).
        case panelAbortSwitch = "panel_abort_switch"
        /// Flag: agent released.
        case panelReleased = "panel_released"
        /// Agent concentration as a fraction of the design concentration.
        case agentConcentration = "agent_concentration"
        /// Flag: relay n of the zone's feed module is energised, i.e. feed n's shunt trip holds it open.
        case relay = "relay"
        /// Flag: feed n closed (energised).
        case feedClosed = "feed_closed"
        /// Flag: HVAC running.
        case hvacRunning = "hvac_running"
        /// Flag: HVAC dampers open (they close when HVAC stops, so the agent holds).
        case dampersOpen = "dampers_open"
        /// Flag: exhaust fan running.
        case exhaustRunning = "exhaust_running"
        /// `connected|disconnected` of the battery system (SunSpec 802 State names).
        case bmsState = "bms_state"
        /// Flags: hottest string at the BMS over-temperature warning / alarm threshold.
        case bmsOverTempWarning = "bms_over_temp_warning"
        case bmsOverTempAlarm = "bms_over_temp_alarm"
        /// UPS battery temperature (hottest string), °C, and its over-temperature flag.
        case upsBatteryTemperature = "ups_battery_temperature"
        case upsBatteryOvertemp = "ups_battery_overtemp"
        /// Flags: UPS on battery because its charger feed is open, and its inverse.
        case upsOnBattery = "ups_on_battery"
        case upsOnline = "ups_online"

        /// Whether the name takes `[n]`: required for feeds and relays, optional for strings.
        var index: IndexRule {
            switch self {
            case .relay, .feedClosed: return .required
            case .stringTemperature, .stringState, .contactorClosed, .contactorState: return .optional
            default: return .none
            }
        }
    }

    enum IndexRule { case none, optional, required }

    /// A model quantity, or a constant the point always serves.
    public enum Source: Sendable, Hashable {
        case model(Kind, index: Int?)
        case constant(SimValue)
    }

    public var source: Source

    public init(_ kind: Kind, index: Int? = nil) {
        source = .model(kind, index: index)
    }

    public init(constant: SimValue) {
        source = .constant(constant)
    }

    /// Parses `room_temperature`, `string_temperature[2]`, `relay[1]`, `const 230`, `const online`.
    public init(parsing text: String) throws(BindingError) {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.hasPrefix("const ") {
            source = .constant(SimValue(scalar: String(trimmed.dropFirst(6))))
            return
        }
        let (name, index) = try indexed(trimmed, what: "quantity")
        guard let kind = Kind(rawValue: name) else {
            throw BindingError(
                text: text, problem: "unknown quantity '\(name)'",
                hint: "use one of: \(Kind.allCases.map(\.rawValue).joined(separator: ", ")), or const <value>")
        }
        switch (kind.index, index) {
        case (.none, .some):
            throw BindingError(text: text, problem: "'\(name)' takes no index", hint: "write \(name)")
        case (.required, .none):
            throw BindingError(text: text, problem: "'\(name)' needs an index", hint: "write \(name)[1] (1-based)")
        default: break
        }
        source = .model(kind, index: index)
    }

    public var description: String {
        switch source {
        case .model(let kind, let index): return index.map { "\(kind.rawValue)[\($0)]" } ?? kind.rawValue
        case .constant(let value): return "const \(value)"
        }
    }
}

/// A physical action a device command causes in its zone, written in profiles as `simulate: <effect>`.
public enum SimEffect: Sendable, Hashable, CustomStringConvertible {
    /// Open every string contactor (stops charging heat; before the point of no return, stops the runaway).
    case disconnectStrings
    case connectStrings
    /// One string, 1-based.
    case disconnectString(Int)
    case connectString(Int)
    case startExhaust
    case stopExhaust
    /// HVAC off shuts the dampers too (the agent must hold its concentration).
    case stopHVAC
    case startHVAC
    /// Release the agent (after the panel's own pre-discharge, if it has one).
    case release
    /// Abort a pre-discharge countdown; no effect once the agent is released.
    case abort
    /// Reset the panel to normal when nothing holds it in alarm.
    case resetPanel
    /// Open (trip) or close feed n of the zone, 1-based.
    case openFeed(Int)
    case closeFeed(Int)
    /// A command the device accepts that changes nothing physical (mute, reset a counter).
    case none

    /// Parses `disconnect_strings`, `disconnect_string[2]`, `open_feed[1]`, `release`, `none`, ….
    public init(parsing text: String) throws(BindingError) {
        let (name, index) = try indexed(text.trimmingCharacters(in: .whitespaces), what: "effect")
        let plain: [String: SimEffect] = [
            "disconnect_strings": .disconnectStrings, "connect_strings": .connectStrings,
            "start_exhaust": .startExhaust, "stop_exhaust": .stopExhaust,
            "stop_hvac": .stopHVAC, "start_hvac": .startHVAC,
            "release": .release, "abort": .abort, "reset_panel": .resetPanel, "none": .none,
        ]
        let numbered: [String: (Int) -> SimEffect] = [
            "disconnect_string": SimEffect.disconnectString, "connect_string": SimEffect.connectString,
            "open_feed": SimEffect.openFeed, "close_feed": SimEffect.closeFeed,
        ]
        if let index, let make = numbered[name] {
            self = make(index)
        } else if index == nil, let effect = plain[name] {
            self = effect
        } else if numbered[name] != nil {
            throw BindingError(text: text, problem: "'\(name)' needs an index", hint: "write \(name)[1] (1-based)")
        } else if plain[name] != nil {
            throw BindingError(text: text, problem: "'\(name)' takes no index", hint: "write \(name)")
        } else {
            let all = (plain.keys.sorted() + numbered.keys.sorted().map { "\($0)[n]" }).joined(separator: ", ")
            throw BindingError(text: text, problem: "unknown effect '\(name)'", hint: "use one of: \(all)")
        }
    }

    public var description: String {
        switch self {
        case .disconnectStrings: return "disconnect_strings"
        case .connectStrings: return "connect_strings"
        case .disconnectString(let index): return "disconnect_string[\(index)]"
        case .connectString(let index): return "connect_string[\(index)]"
        case .startExhaust: return "start_exhaust"
        case .stopExhaust: return "stop_exhaust"
        case .stopHVAC: return "stop_hvac"
        case .startHVAC: return "start_hvac"
        case .release: return "release"
        case .abort: return "abort"
        case .resetPanel: return "reset_panel"
        case .openFeed(let index): return "open_feed[\(index)]"
        case .closeFeed(let index): return "close_feed[\(index)]"
        case .none: return "none"
        }
    }
}

/// Splits `name[3]` into the name and a positive index.
private func indexed(_ text: String, what: String) throws(BindingError) -> (String, Int?) {
    guard let open = text.firstIndex(of: "[") else {
        guard !text.isEmpty else { throw BindingError(text: text, problem: "empty \(what)", hint: "name a \(what)") }
        return (text, nil)
    }
    guard text.hasSuffix("]"), let index = Int(text[text.index(after: open)..<text.index(before: text.endIndex)]),
        index >= 1
    else {
        throw BindingError(text: text, problem: "bad index in '\(text)'", hint: "write name[n] with n a number from 1")
    }
    return (String(text[..<open]), index)
}

/// A `simulate:` text that does not name a known quantity or effect.
public struct BindingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The text as written.
    public var text: String
    public var problem: String
    /// What to write instead.
    public var hint: String
    /// The point or command it was written on, when known.
    public var key: String?

    public init(text: String, problem: String, hint: String, key: String? = nil) {
        self.text = text
        self.problem = problem
        self.hint = hint
        self.key = key
    }

    public var description: String {
        let on = key.map { " on '\($0)'" } ?? ""
        return "simulate\(on): \(problem); \(hint)"
    }
}

/// The numbers behind the physical model of one zone. Defaults are chosen so that the sequence
/// matches the public facts in DEVICE-FACTS.md: off-gas is released minutes (6.4 min in the DNV GL
/// tests, §6) before runaway; stopping the charge before the point of no return lets the cell cool and
/// off-gas decline; exhaust keeps the room under 25 % LFL (§8); a gas agent holds for about ten
/// minutes with dampers shut. Temperatures in °C, rates per second unless named otherwise.
public struct ModelParameters: Sendable, Hashable {
    /// Outside air the room drifts to when HVAC is off.
    public var outsideTemperature = 30.0
    /// What HVAC holds the room at.
    public var hvacSetpoint = 22.0
    /// Time constant of the room toward the setpoint with HVAC running.
    public var roomTauWithHVAC: Duration = .seconds(300)
    /// Time constant of the room toward outside air with HVAC stopped.
    public var roomTauWithoutHVAC: Duration = .seconds(3600)
    /// Relative humidity the room sits at, %RH.
    public var humidity = 45.0

    /// A connected, charging string sits this far above the room.
    public var chargingRise = 3.0
    /// Time constant of a string toward its resting temperature.
    public var stringTau: Duration = .seconds(900)
    /// Heating of an abused cell while the abuse (charging) goes on, and of any cell past the point of no return.
    public var abuseHeating = 0.08
    /// From the start of abuse to the first venting.
    public var ventDelay: Duration = .seconds(20)
    /// Venting time (with the abuse still on) after which disconnecting no longer helps.
    public var pointOfNoReturn: Duration = .seconds(150)
    /// From the first venting to runaway, when nothing pulls the cell back (DEVICE-FACTS §6: 6.4 min).
    public var runawayAfterVenting: Duration = .seconds(384)
    /// Peak temperature a runaway string heads for, and how fast.
    public var runawayPeak = 650.0
    public var runawayTau: Duration = .seconds(90)
    /// A string in runaway sets off the next one after this long.
    public var propagationDelay: Duration = .seconds(300)
    /// A string burns out after this long in runaway.
    public var burnDuration: Duration = .seconds(1200)
    /// Vented gas of a runaway ignites after this long, unless the agent holds the room.
    public var ignitionDelay: Duration = .seconds(10)
    /// Time constant of off-gas emission dying away once the abuse stops (before the point of no return).
    public var pullBackTau: Duration = .seconds(45)

    /// Off-gas emission of one venting string and of one runaway string that is not burning, % LFL per second.
    public var ventEmission = 0.08
    public var runawayEmission = 0.4
    /// Air changes: leakage always, HVAC with dampers open, exhaust fan; per second.
    public var leakageRate = 1.0 / 900
    public var hvacAirRate = 1.0 / 600
    public var exhaustAirRate = 1.0 / 45
    /// Room concentration at which an off-gas detector says `detected` (ppm-level sensors: a trace).
    public var offgasDetectLFL = 0.2

    /// Smoke made by one burning string, and by a runaway string that is not burning, %obs/m per second.
    public var flameSmoke = 0.01
    public var runawaySmoke = 0.001
    /// Time constant of smoke removal by the agent (knock-down).
    public var agentSmokeTau: Duration = .seconds(20)
    /// Aspirating-detector levels, %obs/m (common VESDA-style settings; factory defaults unconfirmed).
    public var smokeAlert = 0.08
    public var smokeAction = 0.14
    public var smokeFire1 = 0.2
    public var smokeFire2 = 1.0

    /// Room heating by one burning string, °C per second, and coupling of hot strings to the room.
    public var flameHeating = 0.4
    public var stringToRoomTau: Duration = .seconds(3000)

    /// Agent concentration (fraction of design) decays with this time constant with dampers shut
    /// and no exhaust, faster with them open; flames stay out above `agentHoldFraction`.
    public var agentHoldTau: Duration = .seconds(900)
    public var agentHoldFraction = 0.5
    /// The panel's own detectors: its heat detector and its smoke detector at `smokeFire1`.
    public var panelHeatDetector = 57.0
    /// Pre-discharge countdown the panel itself runs after a `release` command; zero when the
    /// controller (FireWatch) has already run its own countdown.
    public var panelPreDischarge: Duration = .zero

    /// BMS and UPS thresholds on the hottest string.
    public var bmsOverTempWarning = 50.0
    public var bmsOverTempAlarm = 60.0
    public var upsBatteryOverTemp = 55.0

    /// Measurement noise of numeric readings (half-width, uniform).
    public var temperatureNoise = 0.1
    public var humidityNoise = 0.5

    /// How long after a command its effect becomes visible to a readback.
    public var lags = ReadbackLags()

    /// The integration step. Events and effects take hold on this grid.
    public var step: Duration = .milliseconds(100)

    public init() {}
}

/// Readback delays per kind of actuator: the time from an accepted command to the state change a
/// readback sees. Real contactors and relays take a few hundred milliseconds, fans and HVAC longer.
public struct ReadbackLags: Sendable, Hashable {
    public var strings: Duration = .milliseconds(500)
    public var exhaust: Duration = .milliseconds(1000)
    public var hvac: Duration = .milliseconds(1500)
    public var panel: Duration = .milliseconds(1000)
    public var feeds: Duration = .milliseconds(300)

    public init() {}

    /// All lags set to one value (zero in tests that look at physics, not at readback).
    public init(all lag: Duration) {
        strings = lag
        exhaust = lag
        hvac = lag
        panel = lag
        feeds = lag
    }
}

import FireSafety
import Foundation
import Modbus
import Synchronization
import Testing

@testable import AlertLog
@testable import Gateway
import FireWatchTesting
import SiteConfig

/// The in-process pieces of the runtime: the record ↔ JSON mapping, the status line, readings from a poll.
struct RuntimeUnitTests {
    @Test func everyAlertRecordFieldRoundTripsThroughTheLogWithItsDocumentedKey() throws {
        let record = AlertRecord(
            time: Timestamp(iso8601: "2026-11-24T03:12:09.125Z")!, site: "pangyo-a", zone: "battery-room-a",
            severity: .alarm, event: .stepStarted, from: "alert", to: "isolating", device: "gas-a", point: "offgas",
            value: "detected", message: "off-gas detected", signal: "offgas", level: .alarm, procedure: .powerCut,
            step: 2, stepText: "command feed-a.open_feed_1", uid: "1000",
            until: Timestamp(iso8601: "2026-11-24T03:12:39.125Z")!, reason: "maintenance", outcome: "accepted",
            detail: "exit status 0", user: "root")
        let members = record.jsonMembers(extra: [JSONMember("version", "0.1.0"), JSONMember("message", "dup")])
        let keys = members.map(\.key)
        #expect(
            keys == [
                "time", "site", "zone", "severity", "event", "from", "to", "device", "point", "value", "message",
                "signal", "level", "procedure", "step", "step_text", "uid", "user", "until", "reason", "outcome",
                "detail", "version",
            ])
        // `firewatch alerts` knows every key the daemon writes (an unknown one is warned about).
        #expect(Set(keys + ["records_read", "seq", "prev"]).subtracting(AlertLine.knownFields).isEmpty)
        // Through the bytes the log holds, and back.
        let line = JSONWriter.serialize(members: members + [JSONMember("unknown_field", 7)])
        let fields = try JSONDecoder().decode(JSONValue.self, from: Data(line.utf8))
        guard case .object(let parsed) = fields else {
            Issue.record("not an object")
            return
        }
        let back = AlertRecord(
            jsonFields: Dictionary(parsed.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }))
        #expect(back == record)
    }

    @Test func aRecordWithoutOptionalFieldsLeavesThemOutAndALineThatIsNoRecordIsSkipped() {
        let record = AlertRecord(
            time: Timestamp(seconds: 0), site: "s", severity: .info, event: .daemonStarted, message: "hi")
        #expect(record.jsonMembers().map(\.key) == ["time", "site", "severity", "event", "message"])
        #expect(AlertRecord(jsonFields: ["event": "log.truncated", "time": "1970-01-01T00:00:00.000Z"]) == nil)
        #expect(AlertRecord(jsonFields: ["event": "zone.state", "site": "s", "severity": "bad"]) == nil)
    }

    @Test func theStatusLineCountsZonesByStateAndDevicesUp() {
        let zones = ["a", "b", "c"].map { ZoneSpec(name: $0, signals: [], isolate: [], suppress: [], powerCut: []) }
        let engine = Engine(
            model: SiteModel(site: "s", pollInterval: .seconds(1), staleAfter: .seconds(3), zones: zones))
        let line = DaemonStatus.summaryLine(zones: engine.status, devicesUp: 17, devices: 18)
        #expect(line == "3 zones: 3 normal; 17/18 devices up")
    }

    @Test func pollsKeepTheirScheduleAndSkipTicksMissedInAStall() {
        let interval = Duration.milliseconds(100)
        // On time: the next tick.
        #expect(Poller.nextTick(after: 0, elapsed: .milliseconds(30), interval: interval) == 1)
        // A poll that ran late but within its slot: still the next tick, so no drift accumulates.
        #expect(Poller.nextTick(after: 4, elapsed: .milliseconds(490), interval: interval) == 5)
        // A stall of 3.5 intervals: ticks 2 and 3 are skipped, not run back to back.
        #expect(Poller.nextTick(after: 1, elapsed: .milliseconds(350), interval: interval) == 4)
    }

    @Test func aPollSaysLostForAnUnreachableDeviceAndInvalidForAnAnswerThatCannotBeTrusted() throws {
        let point = { (name: String, address: Int) in
            PointSpec(name: name, table: .input, address: address, type: .int16, range: -40...60)
        }
        let plan = ReadPlan(points: [point("a", 0), point("b", 1)])
        let refs = [SourceRef(device: "d", point: "a"), SourceRef(device: "d", point: "b")]
        let signal = SignalSpec(name: "t", sources: refs, vote: .oneOutOfTwo, thresholds: [.alert: .atLeast(35)])
        let engine = Engine(
            model: SiteModel(
                site: "s", pollInterval: .seconds(1), staleAfter: .seconds(3),
                zones: [ZoneSpec(name: "z", signals: [signal], isolate: [], suppress: [], powerCut: [])]))
        let sources = try refs.map { ($0, try #require(engine.slot(of: $0))) }
        let request = try #require(plan.requests.first)

        let below = DeviceReadResult(
            readings: plan.decode(request, registers: [20, UInt16(bitPattern: -90)]), failures: [], plan: plan)
        let first = Poller.readings(below, sources: sources).map(\.reading.status)
        #expect(first[0] == .value(.number(20)))
        guard case .invalid(let why) = first[1] else {
            Issue.record("expected invalid, got \(first[1])")
            return
        }
        #expect(why.contains("below its range"))
        // Above the top: evidence of at least the top, and trouble.
        let above = DeviceReadResult(readings: plan.decode(request, registers: [20, 900]), failures: [], plan: plan)
        #expect(
            Poller.readings(above, sources: sources)[1].reading.status
                == .aboveRange(reading: 900, top: 60))

        let refused = ModbusError(.connectionRefused, operation: "read", endpoint: "127.0.0.1:1")
        let exception = ModbusError(.exception(.illegalDataAddress), operation: "read", endpoint: "127.0.0.1:1")
        let down = DeviceReadResult(
            readings: [], failures: [.init(request: request, error: refused)], plan: plan)
        #expect(
            Poller.readings(down, sources: sources).allSatisfy {
                if case .lost = $0.reading.status { true } else { false }
            })
        let answers = DeviceReadResult(
            readings: [], failures: [.init(request: request, error: exception)], plan: plan)
        #expect(
            Poller.readings(answers, sources: sources).allSatisfy {
                if case .invalid = $0.reading.status { true } else { false }
            })
    }
}

extension RuntimeUnitTests {
    @Test func aWallClockStepIsReportedOnceEitherWayAndMovesNoSiteTime() {
        let clock = ManualSiteClock(Timestamp(seconds: 1000))
        let time = MonotonicSiteTime(clock: clock)
        #expect(time.checkStep() == nil)
        clock.stepWall(by: .seconds(3600))
        #expect(time.now() == Timestamp(seconds: 1000))
        #expect(time.checkStep() == .seconds(3600))
        #expect(time.checkStep() == nil)
        #expect(time.wall(Timestamp(seconds: 1000)) == Timestamp(seconds: 4600))
        clock.stepWall(by: .seconds(-7200))
        #expect(time.checkStep() == .seconds(-7200))
        #expect(time.wall(Timestamp(seconds: 1000)) == Timestamp(seconds: -2600))
        #expect(time.now() == Timestamp(seconds: 1000))
    }

    @Test func onACompressedClockTheStepThresholdIsTenMillisecondsOfRealTime() {
        // At 14,400x the two clocks read 100 µs apart differ by 1.44 s of site time: jitter, not a step.
        let clock = ManualSiteClock(Timestamp(seconds: 1000), speed: 14_400)
        let time = MonotonicSiteTime(clock: clock)
        clock.stepWall(by: .seconds(100))
        #expect(time.checkStep() == nil)
        clock.stepWall(by: .seconds(3600))
        #expect(time.checkStep() == .seconds(3700))
        // At 30x (the scenarios) the threshold stays 1 s.
        let scenario = ManualSiteClock(Timestamp(seconds: 1000), speed: 30)
        let scenarioTime = MonotonicSiteTime(clock: scenario)
        scenario.stepWall(by: .milliseconds(1500))
        #expect(scenarioTime.checkStep() == .milliseconds(1500))
    }

    @Test func wallClockJitterBelowASecondIsNotAStep() {
        let clock = ManualSiteClock(Timestamp(seconds: 1000))
        let time = MonotonicSiteTime(clock: clock)
        clock.stepWall(by: .milliseconds(900))
        #expect(time.checkStep() == nil)
        clock.stepWall(by: .milliseconds(-1800))
        #expect(time.checkStep() == nil)
        // The real clocks, read many times at once: never a step.
        let real = MonotonicSiteTime(clock: SystemSiteClock())
        for _ in 0..<10_000 { #expect(real.checkStep() == nil) }
    }

    @Test func theSystemClockWaitsOnTheMonotonicClock() async throws {
        let clock = SystemSiteClock()
        let before = clock.now()
        try await clock.sleep(for: .milliseconds(20))
        #expect(clock.now() - before >= .milliseconds(20))
        // Site time and wall time agree when the clock is made (no step has happened here).
        #expect(abs((clock.wallNow() - clock.now()).components.seconds) < 1)
    }
}

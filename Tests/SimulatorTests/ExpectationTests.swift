import Testing
@testable import Simulator
import Scenarios

@Suite("Scenario expectations")
struct ExpectationTests {
    let a = "battery-room-a"
    let b = "battery-room-b"

    func parse(_ line: String) throws(ExpectationSyntaxError) -> ExpectedOutcome { try ExpectedOutcome(parsing: line) }

    @Test("the grammar parses into typed expectations and prints back the same")
    func grammar() throws {
        let cases: [(String, ExpectedOutcome)] = [
            (
                "zone battery-room-a reaches isolated by 120s",
                .zoneReaches(zone: a, state: "isolated", after: nil, by: .seconds(120))
            ),
            (
                "zone battery-room-a reaches suppressing after 460s by 12m",
                .zoneReaches(zone: a, state: "suppressing", after: .seconds(460), by: .seconds(720))
            ),
            ("zone battery-room-a reaches alert", .zoneReaches(zone: a, state: "alert", after: nil, by: nil)),
            ("zone battery-room-b stays normal", .zoneStays(zone: b, state: "normal")),
            ("zone battery-room-a never reaches suppressing", .zoneNeverReaches(zone: a, state: "suppressing")),
            ("no writes to panel-a", .noWrites(to: WriteTarget(device: "panel-a"))),
            ("no writes to feed-a.open_feed_1", .noWrites(to: WriteTarget(device: "feed-a", command: "open_feed_1"))),
            (
                "writes to feed-a.open_feed_1 after 300s",
                .writes(to: WriteTarget(device: "feed-a", command: "open_feed_1"), after: .seconds(300), by: nil)
            ),
            ("writes to bms-a by 2m", .writes(to: WriteTarget(device: "bms-a"), after: nil, by: .seconds(120))),
            (
                "writes to panel-a.release after feed-a.stop_hvac",
                .writeOrder(
                    to: WriteTarget(device: "panel-a", command: "release"),
                    after: WriteTarget(device: "feed-a", command: "stop_hvac"))
            ),
            ("device temp-a2 reported trouble", .trouble(device: "temp-a2", by: nil)),
            ("device temp-a2 reported trouble by 90s", .trouble(device: "temp-a2", by: .seconds(90))),
            ("device temp-a1 reported no trouble", .noTrouble(device: "temp-a1")),
        ]
        for (text, expected) in cases {
            let parsed = try parse(text)
            #expect(parsed == expected, "\(text)")
            #expect(try parse(parsed.description) == parsed, "\(parsed)")
        }
        #expect(try parse("  zone   battery-room-b\tstays normal ") == .zoneStays(zone: b, state: "normal"))
    }

    @Test(
        "lines off the grammar are refused with what was expected",
        arguments: [
            ("", "missing a first word"),
            ("zone", "missing a zone name"),
            ("zone a reaches", "missing a zone state"),
            ("zone a gets isolated", "expected 'reaches', 'never' or 'stays', found 'gets'"),
            ("zone a never gets b", "expected 'reaches', found 'gets'"),
            ("zone a reaches isolated by", "missing a duration after 'by'"),
            ("zone a reaches isolated by soon", "'soon' is not a duration"),
            ("zone a reaches isolated before 10s", "unexpected 'before' at the end"),
            ("zone a stays normal today", "unexpected 'today'"),
            ("no writes panel-a", "expected 'to', found 'panel-a'"),
            ("writes to a.b.c", "'a.b.c' is not a device or device.command"),
            ("writes to a after b c", "'b' is not a duration"),
            ("device d reported", "missing 'trouble'"),
            ("device d reported trouble after 3s", "takes only 'by T'"),
            ("panel-a is quiet", "found 'panel-a'"),
        ])
    func syntaxErrors(line: String, message: String) {
        do {
            _ = try parse(line)
            Issue.record("accepted '\(line)'")
        } catch {
            #expect(error.problem.contains(message), "\(error.problem)")
        }
    }

    /// A plausible run: off-gas in room A isolated, then suppression and a power cut of room A.
    var pangyoRun: [Observation] {
        [
            .zoneState(a, "alert", at: .seconds(81)),
            .zoneState(a, "isolating", at: .seconds(82)),
            .write("bms-a", "disconnect_string", at: .seconds(82)),
            .write("feed-a", "start_exhaust", at: .seconds(83)),
            .zoneState(a, "isolated", at: .seconds(85)),
            .trouble("temp-a3", point: "temperature", at: .seconds(640)),
            .zoneState(a, "suppressing", at: .seconds(595)),
            .write("feed-a", "stop_hvac", at: .seconds(595)),
            .write("panel-a", "release", at: .seconds(626)),
            .write("feed-a", "open_feed_1", at: .seconds(627)),
            .write("feed-a", "open_feed_2", at: .seconds(632)),
        ]
    }

    func verdict(_ line: String, _ observations: [Observation], escalation: [String]? = nil) throws -> ExpectationResult
    {
        ExpectationEvaluator(escalation: escalation).evaluate(try parse(line), against: observations)
    }

    @Test(
        "expectations that hold pass",
        arguments: [
            "zone battery-room-a reaches isolated by 120s",
            "zone battery-room-a reaches isolated after 80s by 90s",
            "zone battery-room-a reaches suppressing after 460s by 720s",
            "zone battery-room-b stays normal",
            "zone battery-room-b never reaches alert",
            "zone battery-room-a never reaches power_cut",
            "writes to bms-a.disconnect_string by 120s",
            "writes to feed-a by 90s",
            "writes to feed-a.open_feed_1 after 300s",
            "writes to panel-a.release after feed-a.stop_hvac",
            "writes to feed-a.open_feed_1 after panel-a.release",
            "no writes to panel-b",
            "no writes to feed-b",
            "no writes to feed-a.close_feed_1",
            "device temp-a3 reported trouble",
            "device temp-a3 reported trouble by 700s",
            "device temp-a1 reported no trouble",
        ])
    func passing(line: String) throws {
        let result = try verdict(line, pangyoRun)
        #expect(result.passed, "\(result)")
    }

    @Test(
        "expectations that do not hold fail, and say what was seen",
        arguments: [
            ("zone battery-room-a reaches isolated by 60s", "only at 85s"),
            ("zone battery-room-a reaches isolated after 100s", "at 85s, before 100s"),
            ("zone battery-room-b reaches isolated", "never happened"),
            ("zone battery-room-a stays normal", "went alert at 81s"),
            ("zone battery-room-a never reaches suppressing", "reached suppressing at 595s"),
            ("writes to feed-a.open_feed_1 after 700s", "before 700s"),
            ("writes to feed-a.open_feed_1 by 600s", "only at 627s"),
            ("writes to feed-b.open_feed_1", "never happened"),
            ("writes to feed-a.stop_hvac after panel-a.release", "stop_hvac at 595s"),
            ("writes to panel-b.release after feed-a.stop_hvac", "no write to panel-b.release"),
            ("writes to panel-a.release after feed-b.stop_hvac", "no write to feed-b.stop_hvac"),
            ("no writes to panel-a", "written at 626s"),
            ("no writes to feed-a.open_feed_2", "written at 632s"),
            ("device temp-a3 reported trouble by 10m", "only at 640s"),
            ("device temp-a1 reported trouble", "never happened"),
            ("device temp-a3 reported no trouble", "trouble at 640s"),
        ])
    func failing(line: String, detail: String) throws {
        let result = try verdict(line, pangyoRun)
        #expect(!result.passed, "\(result)")
        #expect(result.detail.contains(detail), "\(result.detail)")
    }

    @Test("an empty run passes the quiet expectations and fails the active ones")
    func emptyRun() throws {
        #expect(try verdict("zone battery-room-a stays normal", []).passed)
        #expect(try verdict("zone battery-room-a never reaches alert", []).passed)
        #expect(try verdict("no writes to panel-a", []).passed)
        #expect(try verdict("device gas-a reported no trouble", []).passed)
        #expect(try !verdict("zone battery-room-a reaches normal by 1s", []).passed)
        #expect(try !verdict("writes to panel-a", []).passed)
        #expect(try verdict("zone battery-room-a stays normal", [.zoneState(a, "normal", at: .seconds(3))]).passed)
    }

    @Test("with the engine's escalation order, a skipped state counts as reached")
    func escalation() throws {
        let order = ["normal", "alert", "isolating", "isolated", "suppressing", "suppressed"]
        let jump: [Observation] = [
            .zoneState(a, "alert", at: .seconds(5)), .zoneState(a, "suppressing", at: .seconds(9)),
        ]
        #expect(try !verdict("zone battery-room-a reaches isolated by 10s", jump).passed)
        #expect(try verdict("zone battery-room-a reaches isolated by 10s", jump, escalation: order).passed)
        #expect(try !verdict("zone battery-room-a never reaches isolated", jump, escalation: order).passed)
        #expect(try verdict("zone battery-room-a never reaches isolated", jump).passed)
        // Names outside the order still match exactly.
        #expect(try verdict("zone battery-room-a never reaches trouble", jump, escalation: order).passed)
    }

    @Test("observations may arrive out of order; equal times keep their order")
    func ordering() throws {
        let shuffled: [Observation] = [
            .write("panel-a", "release", at: .seconds(30)),
            .zoneState(a, "isolated", at: .seconds(20)),
            .write("feed-a", "stop_hvac", at: .seconds(30)),
            .zoneState(a, "alert", at: .seconds(10)),
        ]
        #expect(try verdict("zone battery-room-a reaches alert by 10s", shuffled).passed)
        #expect(try !verdict("writes to panel-a.release after feed-a.stop_hvac", shuffled).passed)
        #expect(try verdict("writes to feed-a.stop_hvac after panel-a.release", shuffled).passed)
    }

    @Test("a scenario's expectations are judged with their lines")
    func scenarioLines() throws {
        let scenario = try Scenario(
            yaml: "name: x\nduration: 1m\nexpect:\n  - no writes to panel-a\n  - zone battery-room-a stays normal\n",
            file: "x.yaml")
        let results = ExpectationEvaluator().evaluate(scenario.expectations, against: pangyoRun)
        #expect(results.map(\.line) == [4, 5])
        #expect(results.map(\.passed) == [false, false])
        #expect(results[0].description.hasPrefix("FAIL no writes to panel-a — written at 626s"))
    }
}

import Testing

@testable import FireSafety

/// A zone whose evidence kinds are set explicitly: two temperature signals of one kind, and the releasing
/// panel's own fire input as a kind of its own. Its procedures are empty except for a one-step suppress.
@Suite("Double knock by kind, shared sources, empty procedures")
struct KindTests {
    static let model = SiteModel(
        site: "lab", pollInterval: .seconds(1), staleAfter: .seconds(3),
        zones: [
            ZoneSpec(
                name: "rack-row-1",
                signals: [
                    SignalSpec(
                        name: "room_temp", kind: "temperature", sources: [Site.ref("t1.temperature")],
                        vote: .oneOutOfOne, thresholds: [.alarm: .atLeast(50), .fire: .atLeast(70)], unit: "°C"),
                    SignalSpec(
                        name: "string_temp", kind: "temperature", sources: [Site.ref("bms.string_temp")],
                        vote: .oneOutOfOne, thresholds: [.alarm: .atLeast(50), .fire: .atLeast(70)], unit: "°C"),
                    SignalSpec(
                        name: "panel", sources: [Site.ref("panel.inputs.fire")], vote: .oneOutOfOne,
                        thresholds: [.fire: .equals(true)]),
                    SignalSpec(
                        name: "ups", sources: [Site.ref("ups.battery_overtemp")], vote: .oneOutOfOne,
                        thresholds: [.alarm: .equals(true)]),
                ],
                isolate: [], suppress: [.command(device: "panel", command: "release")], powerCut: []),
            ZoneSpec(
                name: "rack-row-2",
                signals: [
                    SignalSpec(
                        name: "ups", sources: [Site.ref("ups.battery_overtemp")], vote: .oneOutOfOne,
                        thresholds: [.alarm: .equals(true)])
                ],
                isolate: [.notify(channels: ["pager"])], suppress: [], powerCut: []),
        ])

    func feed(_ engine: inout Engine, _ values: [String: Value], at time: Timestamp) -> Output {
        let readings = values.map { Reading.value(Site.ref($0.key), $0.value, at: time) }
        return engine.evaluate(readings, at: time)
    }

    static let quiet: [String: Value] = [
        "t1.temperature": .number(25), "bms.string_temp": .number(25), "panel.inputs.fire": .flag(false),
        "ups.battery_overtemp": .flag(false),
    ]

    @Test("two signals of the same kind at fire are one kind of evidence; the panel's input is a second")
    func kinds() {
        var engine = Engine(model: Self.model)
        var values = Self.quiet
        let t0 = Timestamp(seconds: 1_000)
        _ = feed(&engine, values, at: t0)
        values["t1.temperature"] = .number(90)
        values["bms.string_temp"] = .number(95)
        var out = feed(&engine, values, at: t0 + .seconds(1))
        // No isolate steps: the procedure completes at once and the zone is isolated.
        #expect(engine.status(of: "rack-row-1")?.state == .isolated)
        #expect(!out.actions.contains { if case .runStep = $0 { return true } else { return false } })
        values["panel.inputs.fire"] = .flag(true)
        out = feed(&engine, values, at: t0 + .seconds(2))
        #expect(engine.status(of: "rack-row-1")?.state == .suppressing)
        #expect(
            out.actions.contains(
                .runStep(
                    zone: "rack-row-1", procedure: .suppress, index: 0,
                    step: .command(device: "panel", command: "release"))))
        out = engine.stepFinished(
            zone: "rack-row-1", procedure: .suppress, index: 0, outcome: .succeeded, detail: "released",
            at: t0 + .seconds(3))
        // No power_cut steps configured: the zone stops at suppressed.
        #expect(engine.status(of: "rack-row-1")?.state == .suppressed)
        #expect(engine.status(of: "rack-row-2")?.state == .normal)
    }

    @Test("a source shared by two zones is judged in both; its device's records name no single zone")
    func sharedSource() {
        var engine = Engine(model: Self.model)
        var values = Self.quiet
        let t0 = Timestamp(seconds: 1_000)
        _ = feed(&engine, values, at: t0)
        values["ups.battery_overtemp"] = .flag(true)
        let out = feed(&engine, values, at: t0 + .seconds(1))
        #expect(engine.status.map(\.state) == [.isolated, .isolating])
        #expect(
            out.actions.contains {
                if case .runStep("rack-row-2", .isolate, 0, _) = $0 {
                    return true
                } else {
                    return false
                }
            })
        // Lost once stale_after (3 s) has passed since its last complete poll at t0 + 1 s.
        var records: [AlertRecord] = []
        for second in [2, 5] {
            let time = t0 + .seconds(Int64(second))
            let reading = Reading(source: Site.ref("ups.battery_overtemp"), time: time, status: .lost(reason: "timeout"))
            records += engine.evaluate([reading], at: time).records
        }
        let record = records.first { $0.event == .deviceCommLost }
        #expect(record?.zone == nil && record?.device == "ups")
        #expect(record?.message.contains("(rack-row-1, rack-row-2)") == true)
    }

    @Test("event names are exactly CONTRACT.md's, plus those README's \"differs\" section names")
    func eventNames() {
        let readmeOnly: Set<String> = [
            "step.retried", "log.not_durable", "log.durable", "log.truncated", "standby.owner", "standby.etcd_lost",
            "standby.etcd_restored", "standby.command_refused", "notify.test",
            "operator.test", "operator.test_end", "notify.heartbeat", "poll.late", "poll.on_time",
        ]
        #expect(
            AlertEvent.allCases.map(\.rawValue).filter { !readmeOnly.contains($0) } == [
                "daemon.started", "daemon.stopped", "daemon.config_reloaded", "zone.state", "signal.level",
                "device.comm_lost", "device.comm_restored", "point.invalid", "point.stale", "step.started",
                "step.succeeded", "step.failed", "step.skipped", "step.aborted", "step.resumed", "notify.failed",
                "operator.ack", "operator.reset", "operator.abort", "operator.inhibit", "operator.enable",
                "operator.resume", "log.rotated", "clock.stepped", "state.checkpoint", "daemon.recovered",
            ])
        #expect(readmeOnly.isSubset(of: AlertEvent.allCases.map(\.rawValue)))
        #expect(
            ZoneState.allCases.map(\.rawValue) == [
                "normal", "alert", "isolating", "isolated", "suppressing", "suppressed", "power_cut",
            ])
    }
}

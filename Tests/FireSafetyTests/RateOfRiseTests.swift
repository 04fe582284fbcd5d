import Testing

@testable import FireSafety

/// One temperature sensor with a rate of rise and thresholds far above the test's values, on a 1 s site.
enum RiseSite {
    static let model = SiteModel(
        site: "lab", pollInterval: .seconds(1), staleAfter: .seconds(3),
        zones: [
            ZoneSpec(
                name: "room",
                signals: [
                    SignalSpec(
                        name: "temperature", sources: [Site.ref("t1.temperature")], vote: .oneOutOfOne,
                        thresholds: [.alert: .atLeast(100)],
                        rateOfRise: RateOfRise(perSecond: 5.0 / 60, window: .seconds(60)), unit: "°C")
                ],
                isolate: [], suppress: [], powerCut: [])
        ])
}

@Suite("Evidence: rate of rise by time")
struct RateOfRiseTests {
    @Test("a device polled every 200 ms on a 1 s site still sees a 10 °C/min rise over a 60 s window")
    func fastDevice() {
        var bench = Bench(model: RiseSite.model, values: ["t1.temperature": .value(.number(25))])
        var alertAfter: Int?
        for tick in 1...600 {
            bench.values["t1.temperature"] = .value(.number(25 + Double(tick) * 0.2 / 6))
            bench.tick(.milliseconds(200))
            if alertAfter == nil, bench.zone.signals[0].condition == .alert { alertAfter = tick }
        }
        // Half the window must be covered first (150 readings); a count-bounded ring of 128 never got there.
        #expect(alertAfter.map { (150...160).contains($0) } == true, "alert after \(String(describing: alertAfter))")
        let record = bench.events(.signalLevel).first { $0.to == "alert" }
        #expect(record?.message.hasPrefix("temperature rising 10 °C/min (limit 5 °C/min)") == true)
    }

    @Test("one spike after a gap raises no alert")
    func spikeAfterGap() {
        var bench = Bench(model: RiseSite.model, values: ["t1.temperature": .value(.number(25))])
        for _ in 0..<60 { bench.tick() }
        // The device stops answering for 40 s, comes back with one hot reading, then reads as before.
        bench.values["t1.temperature"] = .lost(reason: "timeout")
        for _ in 0..<40 { bench.tick() }
        bench.values["t1.temperature"] = .value(.number(40))
        bench.tick()
        bench.values["t1.temperature"] = .value(.number(25))
        for _ in 0..<90 { bench.tick() }
        #expect(!bench.events(.signalLevel).contains { $0.to == "alert" })
    }

    @Test("a steady rise after a gap is seen again once half a window has passed")
    func riseAfterGap() {
        var bench = Bench(model: RiseSite.model, values: ["t1.temperature": .value(.number(25))])
        for _ in 0..<30 { bench.tick() }
        bench.values["t1.temperature"] = .lost(reason: "timeout")
        for _ in 0..<20 { bench.tick() }
        var alertAfter: Int?
        for second in 1...60 {
            bench.values["t1.temperature"] = .value(.number(25 + Double(second) / 6))
            bench.tick()
            if alertAfter == nil, bench.zone.signals[0].condition == .alert { alertAfter = second }
        }
        #expect(alertAfter.map { (31...33).contains($0) } == true, "alert after \(String(describing: alertAfter))")
    }
}

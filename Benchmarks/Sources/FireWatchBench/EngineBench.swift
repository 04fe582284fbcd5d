import FireSafety

/// `fw-bench engine --mode quiet|churn|slotted --seconds S`: `Engine.evaluate` cycles per second for a site of
/// 1,000 zones × 10 signals (12 sources a zone, 12,000 readings a cycle), built in code. Each cycle feeds every
/// reading, 1 s of site time after the previous one, as a poller would.
/// - quiet: nothing changes (the steady state of a healthy site), keyed readings (`evaluate(_:at:)`).
/// - slotted: the same, with slots looked up once (`evaluate(slotted:at:)`).
/// - churn: every cycle 10 zones (1 %) see temperature cross `alert` and the 10 of the cycle before fall back,
///   so each cycle writes records and notifications.
/// - one-device (`--zones N`, default 1,000): each evaluation is one device's poll, as the daemon makes them,
///   walking through every device of the site once a second of site time; each gas detector's CO reading changes
///   (2 ↔ 3 ppm, under every threshold) at every visit. Its cost per evaluation must not grow with the zones.
/// Prints `{"cycles":…,"wall_s":…,"cpu_s":…,"records":…}` (cycles: evaluations).
enum EngineBench {
    static let zoneCount = 1_000

    static func model(zones zoneCount: Int = zoneCount) -> SiteModel {
        func number(_ alert: Double, _ alarm: Double, _ fire: Double? = nil) -> [Level: Threshold] {
            var thresholds: [Level: Threshold] = [.alert: .atLeast(alert), .alarm: .atLeast(alarm)]
            if let fire { thresholds[.fire] = .atLeast(fire) }
            return thresholds
        }
        let zones = (0..<zoneCount).map { z -> ZoneSpec in
            func ref(_ device: String, _ point: String) -> SourceRef { SourceRef(device: "\(device)-\(z)", point: point) }
            let signals = [
                SignalSpec(
                    name: "temperature", sources: [ref("temp1", "t"), ref("temp2", "t"), ref("temp3", "t")],
                    vote: .twoOutOfThree, thresholds: number(35, 50, 70), deadband: 1,
                    rateOfRise: RateOfRise(perSecond: 5.0 / 60, window: .seconds(60)), unit: "°C"),
                SignalSpec(
                    name: "offgas", sources: [ref("gas", "offgas")], vote: .oneOutOfOne,
                    thresholds: [.alert: .equals(true), .alarm: .equals(true)]),
                SignalSpec(name: "flammable", sources: [ref("gas", "lfl")], vote: .oneOutOfOne, thresholds: number(10, 25)),
                SignalSpec(
                    name: "smoke", sources: [ref("smoke", "level")], vote: .oneOutOfOne,
                    thresholds: [.alert: .oneOf(["alert"]), .alarm: .oneOf(["action"]), .fire: .oneOf(["fire1"])]),
                SignalSpec(
                    name: "battery", sources: [ref("bms", "over_temp")], vote: .oneOutOfOne,
                    thresholds: [.alarm: .equals(true)]),
                SignalSpec(
                    name: "ups", kind: "battery", sources: [ref("ups", "overtemp")], vote: .oneOutOfOne,
                    thresholds: [.alarm: .equals(true)]),
                SignalSpec(
                    name: "panel", sources: [ref("panel", "fire")], vote: .oneOutOfOne,
                    thresholds: [.fire: .equals(true)]),
                SignalSpec(name: "hydrogen", sources: [ref("gas", "h2")], vote: .oneOutOfOne, thresholds: number(10, 40)),
                SignalSpec(name: "co", sources: [ref("gas", "co")], vote: .oneOutOfOne, thresholds: number(50, 200)),
                SignalSpec(
                    name: "humidity", sources: [ref("temp1", "rh")], vote: .oneOutOfOne, thresholds: number(85, 95)),
            ]
            return ZoneSpec(
                name: "zone-\(z)", signals: signals,
                isolate: [.command(device: "bms-\(z)", command: "disconnect_string"), .notify(channels: ["ops"])],
                suppress: [.notify(channels: ["ops"])], powerCut: [])
        }
        return SiteModel(site: "bench", pollInterval: .seconds(1), staleAfter: .seconds(3), zones: zones)
    }

    /// The readings of one cycle, in a fixed order; temperatures of the zones in `hot` read 40 °C (over alert).
    static func readings(at time: Timestamp, hot: Range<Int>, zones zoneCount: Int = zoneCount) -> [Reading] {
        var readings: [Reading] = []
        readings.reserveCapacity(zoneCount * 12)
        for z in 0..<zoneCount {
            let temperature = hot.contains(z) ? 40.0 : 24.0
            for device in ["temp1", "temp2", "temp3"] {
                readings.append(.value(SourceRef(device: "\(device)-\(z)", point: "t"), .number(temperature), at: time))
            }
            readings.append(.value(SourceRef(device: "gas-\(z)", point: "offgas"), .flag(false), at: time))
            readings.append(.value(SourceRef(device: "gas-\(z)", point: "lfl"), .number(0), at: time))
            readings.append(.value(SourceRef(device: "smoke-\(z)", point: "level"), .name("normal"), at: time))
            readings.append(.value(SourceRef(device: "bms-\(z)", point: "over_temp"), .flag(false), at: time))
            readings.append(.value(SourceRef(device: "ups-\(z)", point: "overtemp"), .flag(false), at: time))
            readings.append(.value(SourceRef(device: "panel-\(z)", point: "fire"), .flag(false), at: time))
            readings.append(.value(SourceRef(device: "gas-\(z)", point: "h2"), .number(0), at: time))
            readings.append(.value(SourceRef(device: "gas-\(z)", point: "co"), .number(2), at: time))
            readings.append(.value(SourceRef(device: "temp1-\(z)", point: "rh"), .number(40), at: time))
        }
        return readings
    }

    static func run(_ options: Options) {
        let mode = options.string("mode")
        let seconds = options.double("seconds", 2)
        if mode == "one-device" { return oneDevice(zones: Int(options.double("zones", Double(zoneCount))), seconds: seconds) }
        var engine = Engine(model: model())
        var time = Timestamp(seconds: 1_800_000_000)
        // The poller builds its readings anyway; building them is not the engine's cost, so it happens once,
        // and each cycle only restamps the time (a cheap pass the poller also makes).
        var readings = readings(at: time, hot: 0..<0)
        let quiet = readings
        let slots = readings.map { engine.slot(of: $0.source)! }
        var slotted = zip(slots, readings).map { SlottedReading(slot: $0, reading: $1) }
        let temperaturesPerZone = 3
        let stride = 12
        var records = 0
        func restamp() {
            for index in readings.indices { readings[index].time = time }
        }
        // Warm-up: fill every rate-of-rise window (60 cycles), so the measured cycles are the steady state.
        for _ in 0..<70 {
            time = time + .seconds(1)
            restamp()
            _ = engine.evaluate(readings, at: time)
        }
        let start = ProcessSample.now()
        let deadline = start.wall + seconds
        var cycles = 0
        while true {
            time = time + .seconds(1)
            switch mode {
            case "quiet":
                restamp()
                records += engine.evaluate(readings, at: time).records.count
            case "slotted":
                for index in slotted.indices { slotted[index].reading.time = time }
                records += engine.evaluate(slotted: slotted, at: time).records.count
            case "churn":
                // Zones hot this cycle: 10 a cycle, walking through the site; the previous 10 cool down.
                readings = quiet
                let first = (cycles * 10) % zoneCount
                for z in first..<first + 10 {
                    for t in 0..<temperaturesPerZone {
                        readings[z * stride + t].status = .value(.number(40))
                    }
                }
                restamp()
                records += engine.evaluate(readings, at: time).records.count
            default: die("--mode is quiet, slotted or churn")
            }
            cycles += 1
            if monotonicSeconds() >= deadline { break }
        }
        let end = ProcessSample.now()
        print(
            "{\"cycles\":\(cycles),\"wall_s\":\(end.wall - start.wall),\"cpu_s\":\(end.cpu - start.cpu),"
                + "\"records\":\(records)}")
    }

    /// `--mode one-device`: one device's poll per evaluation, every device once a second of site time.
    static func oneDevice(zones: Int, seconds: Double) {
        var engine = Engine(model: model(zones: zones))
        var time = Timestamp(seconds: 1_800_000_000)
        let all = readings(at: time, hot: 0..<0, zones: zones)
        // The polls: each device's readings, in the site's order.
        var order: [String] = []
        var byDevice: [String: [Reading]] = [:]
        for reading in all {
            if byDevice[reading.source.device] == nil { order.append(reading.source.device) }
            byDevice[reading.source.device, default: []].append(reading)
        }
        var polls = order.map { byDevice[$0]! }
        let step = Duration.nanoseconds(1_000_000_000 / Int64(polls.count))
        var records = 0
        // Warm-up: a minute of site time of whole-site cycles fills every rate-of-rise window.
        var warm = all
        for _ in 0..<70 {
            time = time + .seconds(1)
            for index in warm.indices { warm[index].time = time }
            records += engine.evaluate(warm, at: time).records.count
        }
        let start = ProcessSample.now()
        let deadline = start.wall + seconds
        var evaluations = 0
        var visit = 0
        while true {
            let index = evaluations % polls.count
            if index == 0 { visit += 1 }
            time = time + step
            for reading in polls[index].indices {
                polls[index][reading].time = time
                if polls[index][reading].source.point == "co" {
                    polls[index][reading].status = .value(.number(visit % 2 == 0 ? 2 : 3))
                }
            }
            records += engine.evaluate(polls[index], at: time).records.count
            evaluations += 1
            if evaluations % 256 == 0, monotonicSeconds() >= deadline { break }
        }
        let end = ProcessSample.now()
        print(
            "{\"cycles\":\(evaluations),\"wall_s\":\(end.wall - start.wall),\"cpu_s\":\(end.cpu - start.cpu),"
                + "\"records\":\(records)}")
    }
}

import Testing
@testable import FireSafety
import FireWatchTesting

@Suite("Timestamp and rate-of-rise ring")
struct TimestampTests {
    @Test("arithmetic with Duration and ISO 8601 text")
    func arithmetic() {
        let t = Timestamp(nanoseconds: 1_795_994_329_125_000_000)
        #expect(t.description == "2026-11-29T23:18:49.125Z")
        #expect(Timestamp(seconds: 0).description == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp(nanoseconds: -1).description == "1969-12-31T23:59:59.999Z")
        #expect((t + .milliseconds(1500)) - t == .milliseconds(1500))
        #expect(t - .seconds(1) < t)
        #expect(Timestamp(seconds: 951_782_400).description.hasPrefix("2000-02-29"))
    }

    @Test("ISO 8601 text parses back to the same instant, and malformed text does not parse")
    func parse() {
        var rng = SplitMix64(seed: 99)
        for _ in 0..<500 {
            let t = Timestamp(nanoseconds: Int64(rng.next() % 4_000_000_000_000) * 1_000_000)
            #expect(Timestamp(iso8601: t.description) == t)
        }
        #expect(Timestamp(iso8601: "2026-11-24T03:12:09Z") == Timestamp(seconds: 1_795_489_929))
        #expect(Timestamp(iso8601: "2026-11-24T03:12:09.000000001Z")?.nanoseconds == 1_795_489_929_000_000_001)
        let malformed = [
            "", "2026-11-24 03:12:09Z", "2026-11-24T03:12:09", "2026-13-24T03:12:09Z", "2026-11-24T03:12:09.Z",
            "2026-11-24T03:12:09+09:00", "2026-11-24T03:12:09.1234567890Z",
        ]
        for bad in malformed {
            #expect(Timestamp(iso8601: bad) == nil, Comment(rawValue: bad))
        }
        #expect(Level(name: "alarm") == .alarm && Level(name: "trouble") == nil)
    }

    @Test(
        "durations read the way an operator says them",
        arguments: [
            (Duration.seconds(30), "30 s"), (.seconds(120), "2 min"), (.seconds(7200), "2 h"),
            (.milliseconds(1500), "1.5 s"),
        ])
    func spokenDurations(duration: Duration, text: String) {
        #expect(spoken(duration) == text)
    }

    @Test("least-squares slope of a steady rise is exact")
    func linearSlope() {
        var ring = SampleRing(window: .seconds(60))
        var judged: Double?
        for second in 0...60 {
            judged = ring.append(time: Timestamp(seconds: Int64(second)), value: 20 + Double(second) * 0.1)
        }
        #expect(abs(judged! - 0.1) < 1e-9)
    }

    @Test("one noisy sample does not make a rise")
    func spike() {
        var ring = SampleRing(window: .seconds(60))
        for second in 0..<60 {
            ring.append(time: Timestamp(seconds: Int64(second)), value: 25)
        }
        let judged = ring.append(time: Timestamp(seconds: 60), value: 37)  // a 12 °C glitch
        #expect(judged! * 60 < 5)
    }

    @Test("a spike steep enough to tilt the whole window must show on two readings in a row")
    func bigSpike() {
        var once = SampleRing(window: .seconds(60))
        var twice = SampleRing(window: .seconds(60))
        for second in 0..<60 {
            once.append(time: Timestamp(seconds: Int64(second)), value: 25)
            twice.append(time: Timestamp(seconds: Int64(second)), value: 25)
        }
        // One reading of 85 °C among 25s: a fit would tilt by over 5 °C/min; the median of three drops it.
        for (second, value) in [(60, 85.0), (61, 25), (62, 25)] {
            #expect(abs(once.append(time: Timestamp(seconds: Int64(second)), value: value)!) < 1e-9)
        }
        // Two in a row enter the fit.
        var judged: Double?
        for (second, value) in [(60, 85.0), (61, 85), (62, 85)] {
            judged = twice.append(time: Timestamp(seconds: Int64(second)), value: value)
        }
        #expect(judged! * 60 > 5)
    }

    @Test("one spike after a gap raises nothing: samples across an outage are never joined")
    func spikeAfterGap() {
        var ring = SampleRing(window: .seconds(60))
        for second in 0...30 {
            ring.append(time: Timestamp(seconds: Int64(second)), value: 25)
        }
        // 55 s without a reading (the device was lost), then one hot reading and a steady room.
        #expect(ring.append(time: Timestamp(seconds: 85), value: 40) == nil)
        var judged: [Double?] = []
        for second in 86...100 { judged.append(ring.append(time: Timestamp(seconds: Int64(second)), value: 40)) }
        #expect(judged.allSatisfy { $0 == nil }, "half a window has not passed since the gap")
        for second in 101...140 { judged.append(ring.append(time: Timestamp(seconds: Int64(second)), value: 40)) }
        #expect(judged.compactMap { $0 }.allSatisfy { abs($0) < 1e-9 })
    }

    @Test("too few samples or too short a span give no slope")
    func notEnough() {
        var ring = SampleRing(window: .seconds(60))
        var short = SampleRing(window: .seconds(8))
        // Each reading enters one reading late (the median of three), so readings 0…5 put samples 1…4 in.
        for second in 0...5 {
            #expect(ring.append(time: Timestamp(seconds: Int64(second)), value: Double(second) * 10) == nil)
            #expect(short.append(time: Timestamp(seconds: Int64(second)), value: Double(second) * 10) == nil)
        }
        ring.append(time: Timestamp(seconds: 6), value: 60)
        let slope = short.append(time: Timestamp(seconds: 6), value: 60)
        #expect(ring.latest == nil)  // five samples spanning 4 s of a 60 s window
        #expect(abs(slope! - 10) < 1e-9)  // five samples over half of 8 s
    }

    @Test("a device polled five times a second covers the whole window in bounded memory")
    func fastDevice() {
        var ring = SampleRing(window: .seconds(60))
        var wide = SampleRing(window: .seconds(600))
        var judged: Double?
        // 10 °C/min sampled every 200 ms for two minutes: 600 samples, the same 32 buckets.
        for tick in 0...600 {
            let time = Timestamp(nanoseconds: 1_000_000_000_000 + Int64(tick) * 200_000_000)
            judged = ring.append(time: time, value: 25 + Double(tick) * 0.2 / 6)
            wide.append(time: time, value: 25)
        }
        #expect(abs(judged! * 60 - 10) < 1e-6)
        #expect(wide.latest == nil, "two minutes cover less than half of a 600 s window")
    }

    @Test("only the newest window counts")
    func newestWindow() {
        var ring = SampleRing(window: .seconds(20))
        for second in 0..<1000 {
            // A rise that turns into a fall.
            let value = second < 990 ? Double(second) : 990 - Double(second - 990) * 2
            ring.append(time: Timestamp(seconds: Int64(second)), value: value)
        }
        #expect(ring.latest! < 0)
    }
}

@Suite("Rate-of-rise sums")
struct SampleRingSumTests {
    @Test("bucket sums agree with a fresh least-squares fit of the window after many evictions")
    func noDrift() {
        var rng = SplitMix64(seed: 7)
        var ring = SampleRing(window: .seconds(30))
        var samples: [(Int64, Double)] = []
        for second in 0..<5000 {
            let value = 25 + Double(second % 700) * 0.05 + Double(rng.next() % 100) / 100
            ring.append(time: Timestamp(seconds: Int64(second)), value: value)
            samples.append((Int64(second), value))
        }
        // What the ring fits: each reading one reading late, as the median of it and its neighbours.
        let filtered = (1..<(samples.count - 1)).map { index in
            (samples[index].0, [samples[index - 1].1, samples[index].1, samples[index + 1].1].sorted()[1])
        }
        // The window is the 32 buckets of 30 s / 32 ending in the newest one.
        let width = 30_000_000_000 / Int64(SampleRing.bucketCount)
        let edge = (4998 * 1_000_000_000 / width - Int64(SampleRing.bucketCount) + 1) * width
        let recent = filtered.filter { $0.0 * 1_000_000_000 >= edge }
        let n = Double(recent.count)
        let ts = recent.map { Double($0.0 - 4998) }
        let vs = recent.map(\.1)
        let st = ts.reduce(0, +)
        let sv = vs.reduce(0, +)
        let stt = ts.map { $0 * $0 }.reduce(0, +)
        let stv = zip(ts, vs).map { $0 * $1 }.reduce(0, +)
        let expected = (n * stv - st * sv) / (n * stt - st * st)
        #expect(recent.count == 30)
        #expect(abs(ring.latest! - expected) < 1e-9)
    }
}

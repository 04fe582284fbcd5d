import Testing
@testable import FireSafety

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
        var rng = SplitMix64(state: 99)
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
        var ring = SampleRing(capacity: 128, window: .seconds(60))
        for second in 0...60 {
            ring.append(time: Timestamp(seconds: Int64(second)), value: 20 + Double(second) * 0.1)
        }
        let slope = ring.slope!
        #expect(abs(slope - 0.1) < 1e-9)
    }

    @Test("one noisy sample does not make a rise")
    func spike() {
        var ring = SampleRing(capacity: 128, window: .seconds(60))
        for second in 0..<60 {
            ring.append(time: Timestamp(seconds: Int64(second)), value: 25)
        }
        ring.append(time: Timestamp(seconds: 60), value: 37)  // a 12 °C glitch
        let perMinute = ring.slope! * 60
        #expect(perMinute < 5)
    }

    @Test("too few samples or too short a span give no slope")
    func notEnough() {
        var ring = SampleRing(capacity: 16, window: .seconds(60))
        var short = SampleRing(capacity: 16, window: .seconds(8))
        for second in 0..<4 {
            ring.append(time: Timestamp(seconds: Int64(second)), value: Double(second) * 10)
            short.append(time: Timestamp(seconds: Int64(second)), value: Double(second) * 10)
        }
        #expect(ring.slope == nil && short.slope == nil)  // four samples
        ring.append(time: Timestamp(seconds: 4), value: 40)
        short.append(time: Timestamp(seconds: 4), value: 40)
        #expect(ring.slope == nil)  // spans 4 s of a 60 s window
        #expect(short.slope == 10)
    }

    @Test("the ring stays bounded")
    func bounded() {
        var ring = SampleRing(capacity: 16, window: .seconds(20))
        var wide = SampleRing(capacity: 16, window: .seconds(600))
        for second in 0..<1000 {
            // A rise that turns into a fall: only the newest window may count.
            let value = second < 990 ? Double(second) : 990 - Double(second - 990) * 2
            ring.append(time: Timestamp(seconds: Int64(second)), value: value)
            wide.append(time: Timestamp(seconds: Int64(second)), value: value)
        }
        #expect(ring.count == 16 && wide.count == 16)
        #expect(ring.slope! < 0)
        #expect(wide.slope == nil)  // sixteen samples cover less than half of a 600 s window
    }
}

@Suite("Rate-of-rise sums")
struct SampleRingSumTests {
    @Test("running sums agree with a fresh least-squares fit after many evictions")
    func noDrift() {
        var rng = SplitMix64(state: 7)
        var ring = SampleRing(capacity: 40, window: .seconds(30))
        var samples: [(Int64, Double)] = []
        for second in 0..<5000 {
            let value = 25 + Double(second % 700) * 0.05 + Double(rng.next() % 100) / 100
            ring.append(time: Timestamp(seconds: Int64(second)), value: value)
            samples.append((Int64(second), value))
        }
        let recent = samples.suffix(31)
        let n = Double(recent.count)
        let ts = recent.map { Double($0.0 - 4999) }
        let vs = recent.map(\.1)
        let st = ts.reduce(0, +)
        let sv = vs.reduce(0, +)
        let stt = ts.map { $0 * $0 }.reduce(0, +)
        let stv = zip(ts, vs).map { $0 * $1 }.reduce(0, +)
        let expected = (n * stv - st * sv) / (n * stt - st * st)
        #expect(abs(ring.slope! - expected) < 1e-9)
    }
}

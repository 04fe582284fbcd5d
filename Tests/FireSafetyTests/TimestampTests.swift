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

    @Test("durations read the way an operator says them", arguments: [
        (Duration.seconds(30), "30 s"), (.seconds(120), "2 min"), (.seconds(7200), "2 h"), (.milliseconds(1500), "1.5 s"),
    ])
    func spokenDurations(duration: Duration, text: String) {
        #expect(spoken(duration) == text)
    }

    @Test("least-squares slope of a steady rise is exact")
    func linearSlope() {
        var ring = SampleRing(capacity: 128)
        for second in 0...60 {
            ring.append(time: Timestamp(seconds: Int64(second)), value: 20 + Double(second) * 0.1)
        }
        let slope = ring.slope(window: .seconds(60))!
        #expect(abs(slope - 0.1) < 1e-9)
    }

    @Test("one noisy sample does not make a rise")
    func spike() {
        var ring = SampleRing(capacity: 128)
        for second in 0..<60 {
            ring.append(time: Timestamp(seconds: Int64(second)), value: 25)
        }
        ring.append(time: Timestamp(seconds: 60), value: 37)  // a 12 °C glitch
        let perMinute = ring.slope(window: .seconds(60))! * 60
        #expect(perMinute < 5)
    }

    @Test("too few samples or too short a span give no slope")
    func notEnough() {
        var ring = SampleRing(capacity: 16)
        for second in 0..<4 { ring.append(time: Timestamp(seconds: Int64(second)), value: Double(second) * 10) }
        #expect(ring.slope(window: .seconds(60)) == nil)
        ring.append(time: Timestamp(seconds: 4), value: 40)
        #expect(ring.slope(window: .seconds(60)) == nil)  // spans 4 s of a 60 s window
        #expect(ring.slope(window: .seconds(8)) != nil)
    }

    @Test("the ring stays bounded")
    func bounded() {
        var ring = SampleRing(capacity: 16)
        for second in 0..<1000 { ring.append(time: Timestamp(seconds: Int64(second)), value: Double(second)) }
        #expect(ring.count == 16)
        #expect(abs(ring.slope(window: .seconds(20))! - 1) < 1e-9)
    }
}

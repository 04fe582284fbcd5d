import FireSafety
@testable import SiteConfig
import Testing

@testable import Gateway

/// FIREWATCH_SITE_CLOCK: one compressed site time for a simulator and a daemon in two processes.
@Suite("Site clock from the environment")
struct SiteClockEnvironmentTests {
    @Test("unset means real time; SPEED@ANCHOR gives a scaled clock anchored at that instant")
    func parses() throws {
        #expect(try ScaledSiteClock.fromEnvironment([:]) == nil)
        let anchor = realtimeNow() - .seconds(2)
        let clock = try #require(
            try ScaledSiteClock.fromEnvironment([ScaledSiteClock.environmentVariable: "20@\(anchor.nanoseconds)"]))
        #expect(clock.speed == 20)
        // Two real seconds after the anchor, site time is at least 40 s past it: the anchor, not the moment the
        // clock was made, is where site and real time meet (a fresh ScaledSiteClock would read about 2 s here).
        #expect(clock.now() - anchor >= .seconds(39))
    }

    @Test("a malformed setting is refused with what to write", arguments: ["fast", "0@1", "20@", "@5", "-3@1", "20@x"])
    func malformed(text: String) {
        #expect(throws: SiteClockSettingError.self) {
            try ScaledSiteClock.fromEnvironment([ScaledSiteClock.environmentVariable: text])
        }
    }
}

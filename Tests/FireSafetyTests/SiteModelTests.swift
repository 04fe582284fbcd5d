import Testing
@testable import FireSafety

@Suite("Site model")
struct SiteModelTests {
    @Test("source references parse device.point and device.point.bit")
    func sourceRefs() {
        #expect(SourceRef(parsing: "temp-a1.temperature") == SourceRef(device: "temp-a1", point: "temperature"))
        #expect(SourceRef(parsing: "bms-a.events.over_temp_alarm")?.bit == "over_temp_alarm")
        #expect(SourceRef(parsing: "nodot") == nil)
        #expect(SourceRef(parsing: "a..b") == nil)
    }

    @Test("default votes are on the safe side")
    func defaultVotes() {
        #expect(Vote.defaultVote(sourceCount: 1) == .oneOutOfOne)
        #expect(Vote.defaultVote(sourceCount: 2) == .oneOutOfTwo)
        #expect(Vote.defaultVote(sourceCount: 3) == .twoOutOfThree)
        #expect(Vote.defaultVote(sourceCount: 4) == nil)
    }
}

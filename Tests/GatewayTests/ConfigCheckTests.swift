import Foundation
import Testing
@testable import Gateway

@Suite("firewatch check")
struct ConfigCheckTests {
    @Test("a valid site prints the summary and exits 0")
    func valid() throws {
        let example = (configRepositoryFolder as NSString).appendingPathComponent("examples/site.yaml")
        let (status, stdout, _) = try configRunFirewatch(["check", "--config", example])
        #expect(status == 0)
        #expect(stdout.contains("site pangyo-a: 18 devices, 2 zones"))
        #expect(stdout.contains("power_cut (tier 3, after suppress):"))
    }

    @Test(
        "an invalid site prints every error as file:line:column and exits 78")
    func invalid() throws {
        let text = configBaseSite.editedConfig("vote: 2oo3", "vote: 2oo2").editedConfig(
            "notify: [ops]", "notify: [opps]")
        let fixture = try ConfigSiteFixture(site: text)
        let (status, stdout, stderr) = try configRunFirewatch(["check", "--config", fixture.sitePath])
        #expect(status == 78)
        #expect(stdout.isEmpty)
        let lines = stderr.split(separator: "\n").map(String.init)
        #expect(
            lines.contains {
                $0.hasPrefix("\(fixture.sitePath):\(fixture.line(of: "vote: 2oo2")):")
                    && $0.contains("error: zones.room.signals.temperature.vote:")
            })
        #expect(lines.contains { $0.contains("unknown notify channel 'opps' (did you mean 'ops'?)") })
        #expect(lines.last == "2 errors in \(fixture.sitePath) and the profiles it uses")
    }
}

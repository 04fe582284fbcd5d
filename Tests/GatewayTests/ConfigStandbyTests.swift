import Foundation
import SiteConfig
import Testing

@testable import Gateway

/// The site file's `standby:` section: what it reads, and what `check` refuses with the line and what to do.
@Suite("Config: standby pair")
struct ConfigStandbyTests {
    static let section = """

        standby:
          etcd: [http://127.0.0.1:2379, "http://127.0.0.1:2479/"]
          peers: [gw-a, gw-b]
        """

    static func site(_ section: String = ConfigStandbyTests.section) -> String { configBaseSite + section }

    @Test("read: endpoints in order (a trailing slash dropped), peers with the first as primary, ttl 10 s by default")
    func reads() throws {
        let site = try ConfigSiteFixture(site: Self.site()).load().get()
        let pair = try #require(site.standby)
        #expect(pair.etcd == ["http://127.0.0.1:2379", "http://127.0.0.1:2479"])
        #expect(pair.peers == ["gw-a", "gw-b"])
        #expect(pair.primary == "gw-a")
        #expect(pair.ttl == .seconds(10))
        #expect(SiteSummary.render(site).contains("standby pair    gw-a + gw-b (primary gw-a); lease ttl 10s"))
    }

    @Test("without standby: the gateway acts alone, and check says so")
    func absent() throws {
        let site = try ConfigSiteFixture(site: configBaseSite).load().get()
        #expect(site.standby == nil)
        #expect(SiteSummary.render(site).contains("standby pair    none (this gateway acts alone)"))
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var section: String
        var base: (old: String, new: String)? = nil
        var marker: String
        var field: String
        var words: [String]
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        Case(
            name: "a ttl under 3 × poll_interval + the longest write window (panel.release verifies within 5s)",
            section: section + "\n  ttl: 7s", marker: "ttl: 7s", field: "standby.ttl",
            words: ["shorter than 3 × poll_interval (1s)", "(5s) = 8s", "at least 8s"]),
        Case(
            name: "the default ttl too short for a slow poll", section: section,
            base: ("poll_interval: 1s", "poll_interval: 3s"), marker: "etcd: [http://127.0.0.1:2379, ", field: "standby",
            words: ["default ttl (10s) is shorter", "at least 14s"]),
        Case(
            name: "a ttl that is not whole seconds", section: section + "\n  ttl: 10500ms", marker: "ttl: 10500ms",
            field: "standby.ttl", words: ["not a whole number of seconds", "etcd leases count whole seconds"]),
        Case(
            name: "one peer is not a pair", section: "\nstandby:\n  etcd: [http://127.0.0.1:2379]\n  peers: [gw-a]",
            marker: "peers: [gw-a]", field: "standby.peers", words: ["needs two gateways, found 1", "[gw-a, gw-b]"]),
        Case(
            name: "a peer named twice", section: "\nstandby:\n  etcd: [http://127.0.0.1:2379]\n  peers: [gw-a, gw-a]",
            marker: "peers: [gw-a, gw-a]", field: "standby.peers[1]", words: ["listed twice"]),
        Case(
            name: "an endpoint that is not http://host:port",
            section: "\nstandby:\n  etcd: [127.0.0.1:2379]\n  peers: [gw-a, gw-b]", marker: "etcd: [127.0.0.1:2379]",
            field: "standby.etcd[0]", words: ["not an etcd client URL", "http://host:port"]),
        Case(
            name: "no endpoint", section: "\nstandby:\n  etcd: []\n  peers: [gw-a, gw-b]", marker: "etcd: []",
            field: "standby.etcd", words: ["no etcd endpoint"]),
        Case(
            name: "peers missing", section: "\nstandby:\n  etcd: [http://127.0.0.1:2379]", marker: "etcd: [http://127.0.0.1:2379]",
            field: "standby", words: ["peers"]),
        Case(
            name: "an unknown field", section: section + "\n  lease: 10s", marker: "lease: 10s", field: "standby.lease",
            words: ["unknown field 'lease'"]),
    ]

    @Test("check refuses, naming the line and the field, and says what to do", arguments: cases)
    func refused(_ rule: Case) throws {
        var text = Self.site(rule.section)
        if let base = rule.base { text = text.editedConfig(base.old, base.new) }
        let fixture = try ConfigSiteFixture(site: text)
        let errors = fixture.errors()
        #expect(!errors.isEmpty, "\(rule.name): the site loaded")
        expectConfigError(errors, line: fixture.line(of: rule.marker), field: rule.field, words: rule.words)
        for error in errors { #expect(error.hint != nil, "\(error) has no hint") }
    }

    @Test("--gateway must name a peer, is required with standby: and refused without it")
    func gatewayName() throws {
        let paired = try ConfigSiteFixture(site: Self.site()).load().get()
        let alone = try ConfigSiteFixture(site: configBaseSite).load().get()
        func problem(_ site: LoadedSite, _ gateway: String?) -> String? {
            var options = DaemonOptions()
            options.gateway = gateway
            do {
                _ = try Daemon.standbyPair(site: site, options: options) { _, _ in }  // never speaks to etcd
                return nil
            } catch {
                return "\(error)"
            }
        }
        #expect(problem(paired, "gw-c")?.contains("--gateway gw-c is not one of the site's standby peers (gw-a, gw-b)") == true)
        #expect(problem(paired, nil)?.contains("say which gateway of the pair this is with --gateway (one of gw-a, gw-b)") == true)
        #expect(problem(alone, "gw-a")?.contains("this site file has none; run without --gateway") == true)
        #expect(problem(alone, nil) == nil)
        #expect(problem(paired, "gw-b") == nil)
    }
}

import FireSafety
import Foundation
@testable import SiteConfig
import Testing
@testable import Gateway

@Suite("Site loading")
struct ConfigSiteTests {
    let examplePath = (configRepositoryFolder as NSString).appendingPathComponent("examples/site.yaml")

    @Test("the example site loads: two rooms, the CONTRACT devices, loopback, distinct ports")
    func example() throws {
        let site = try SiteLoader(shippedDevices: shippedDevicesFolder).load(path: examplePath)
        #expect(site.model.site == "pangyo-a")
        #expect(site.model.zones.map(\.name) == ["battery-room-a", "battery-room-b"])
        #expect(site.devices.allSatisfy { $0.host == "127.0.0.1" })
        #expect(Set(site.devices.map(\.port)).count == site.devices.count)
        #expect(site.alertLog.hasPrefix((examplePath as NSString).deletingLastPathComponent + "/state/"))
        #expect(site.profiles.values.allSatisfy { $0.origin == .shipped })
        let roomA = try #require(site.model.zones.first)
        let temperature = try #require(roomA.signals.first { $0.name == "temperature" })
        #expect(temperature.vote == .twoOutOfThree)
        #expect(temperature.thresholds[.alert] == .atLeast(35))
        #expect(temperature.rateOfRise == RateOfRise(perSecond: 5.0 / 60, window: .seconds(60)))
        #expect(temperature.unit == "°C")
        let smoke = try #require(roomA.signals.first { $0.name == "smoke" })
        #expect(smoke.thresholds[.fire] == .oneOf(["fire1", "fire2"]), "an ordered enum threshold means this or worse")
        let battery = try #require(roomA.signals.first { $0.name == "battery" })
        #expect(battery.sources.map(\.description) == ["bms-a.events.over_temp_alarm", "ups-a.battery_overtemp"])
        #expect(battery.vote == .oneOutOfTwo)
        #expect(roomA.suppress.contains(.delay(.seconds(30), abortable: true)))
        // Each room's power cut touches only its own feeds.
        for zone in site.model.zones {
            let suffix = zone.name.hasSuffix("-a") ? "-a" : "-b"
            for case .command(let device, _) in zone.powerCut { #expect(device.hasSuffix(suffix)) }
            #expect(!zone.powerCut.isEmpty)
        }
        // Every source resolves to a point of its device's profile.
        for zone in site.model.zones {
            for signal in zone.signals {
                for source in signal.sources { #expect(site.point(for: source) != nil, "\(source)") }
            }
        }
    }

    @Test("the summary shows profile files, requests, votes, thresholds and exact steps")
    func summary() throws {
        let site = try SiteLoader(shippedDevices: shippedDevicesFolder).load(path: examplePath)
        let text = SiteSummary.render(site)
        #expect(text.contains("devices/ups/apc-smart-ups.yaml (shipped)"))
        #expect(text.contains("requests per poll: holding 0+2, holding 18+5, holding 128+24"))
        #expect(text.contains("2oo3 of temp-a1.temperature, temp-a2.temperature, temp-a3.temperature (°C)"))
        #expect(text.contains("alert ≥ 35, alarm ≥ 45, fire ≥ 55"))
        #expect(
            text.contains(
                "command bms-a.disconnect_string: write holding 40171 = 2 (0x2), "
                    + "verify string_status.contactor_closed = false within 5s"
            ))
        #expect(text.contains("command feed-b.open_feed_2: write coil 3 = true, verify feed_2_trip = true within 2s"))
        #expect(text.contains("delay 30s (abortable"))
    }

    @Test("profile lookup: beside the site, then profile_path, then shipped; the winner is recorded")
    func lookupOrder() throws {
        let local =
            "name: Local offgas\nsource: \"site copy\"\npoints:\n"
            + "  offgas: { table: holding, address: 7, type: enum, values: { 0: clear, 1: detected } }\n"
        let extra =
            "name: Extra\nsource: \"extra folder\"\npoints:\n  temperature: { table: input, address: 1, type: int16 }\n"
        let text =
            configBaseSite
            .editedConfig("site: test-site", "site: test-site\nprofile_path: [extra]")
            .editedConfig("t3:    { profile: sensor/temperature-humidity", "t3:    { profile: custom/thermo")
        let fixture = try ConfigSiteFixture(
            site: text, profiles: ["sensor/offgas": local], files: ["extra/custom/thermo.yaml": extra])
        let site = try fixture.load().get()
        #expect(site.profiles["sensor/offgas"]?.origin == .besideSite)
        #expect(site.profile(of: "gas")?.name == "Local offgas")
        #expect(
            site.profiles["custom/thermo"]?.origin
                == .profilePath((fixture.folder as NSString).appendingPathComponent("extra")))
        #expect(site.profiles["sensor/temperature-humidity"]?.origin == .shipped)
        #expect(site.profiles["sensor/offgas"]?.path.hasPrefix(fixture.folder) == true)
    }

    @Test("a profile given as a file path is relative to the site file")
    func fileReference() throws {
        let local =
            "name: File offgas\nsource: \"file\"\npoints:\n"
            + "  offgas: { table: input, address: 0, type: enum, values: { 0: clear, 1: detected } }\n"
        let text = configBaseSite.editedConfig("profile: sensor/offgas", "profile: ./mine/offgas.yaml")
        let fixture = try ConfigSiteFixture(site: text, files: ["mine/offgas.yaml": local])
        let site = try fixture.load().get()
        #expect(site.profiles["./mine/offgas.yaml"]?.origin == .file)
        #expect(site.profile(of: "gas")?.name == "File offgas")
    }

    @Test("a missing profile_path folder is an error")
    func missingProfilePath() throws {
        let text = configBaseSite.editedConfig("site: test-site", "site: test-site\nprofile_path: [nowhere]")
        let fixture = try ConfigSiteFixture(site: text)
        expectConfigError(fixture.errors(), line: 2, field: "profile_path[0]", words: ["does not exist"])
    }

    @Test("defaults: port 502, unit 1, poll 1s, stale 3 polls, max gap 8, timeouts")
    func defaults() throws {
        let text = configBaseSite.editedConfig("host: 127.0.0.1, port: 1501 }", "host: 10.0.0.1 }")
        let site = try ConfigSiteFixture(site: text).load().get()
        let t1 = try #require(site.device(named: "t1"))
        #expect((t1.port, t1.unit) == (502, 1))
        #expect(site.model.pollInterval == .seconds(1))
        #expect(site.model.staleAfter == .seconds(3))
        #expect(site.maxGap(of: t1) == 8)
        #expect(site.timeout(of: t1) == .seconds(1))
        #expect(site.controlSocket.hasSuffix("state/control.sock"))
        #expect(site.channel(named: "ops")?.timeout == .seconds(2))
        #expect((site.alertLogMaxBytes, site.alertLogKeep) == (16 << 20, 10))
    }

    @Test("an alertmanager channel keeps its base URL (a route prefix too, no trailing /), and check describes it")
    func alertmanagerChannel() throws {
        for (written, kept) in [
            ("http://127.0.0.1:9093", "http://127.0.0.1:9093"), ("https://am.example:9093/", "https://am.example:9093"),
            ("http://127.0.0.1:9093/alertmanager/", "http://127.0.0.1:9093/alertmanager"),
        ] {
            let text = configBaseSite.editedConfig(
                "ops: { webhook: \"http://127.0.0.1:9781/hook\", timeout: 2s }",
                "ops: { alertmanager: \"\(written)\", timeout: 3s }")
            let site = try ConfigSiteFixture(site: text).load().get()
            let channel = try #require(site.channel(named: "ops"))
            #expect(channel.target == .alertmanager(URL(string: kept)!), "\(written)")
            #expect(channel.timeout == .seconds(3))
            let summary = SiteSummary.render(site)
            #expect(
                summary.contains(
                    "ops  alertmanager \(kept)/api/v2/alerts: latched zones fire until reset, re-posted every 1m; "
                        + "events expire after 5m (timeout 3s)"), "\(summary)")
        }
    }

    @Test("alert log rotation is a site setting: size in KiB/MiB/GiB or bytes, and the files kept")
    func alertLogRotation() throws {
        let text = configBaseSite.editedConfig(
            "alert_log: state/alerts.jsonl\n", "alert_log: state/alerts.jsonl\nalert_log_max_size: 512KiB\nalert_log_keep: 3\n")
        let site = try ConfigSiteFixture(site: text).load().get()
        #expect((site.alertLogMaxBytes, site.alertLogKeep) == (512 << 10, 3))
        #expect(ByteSizeText.parse("2048") == 2048 && ByteSizeText.parse("1GiB") == 1 << 30)
        #expect(ByteSizeText.parse("16MB") == nil && ByteSizeText.parse("-1KiB") == nil)
        #expect(ByteSizeText.format(16 << 20) == "16MiB" && ByteSizeText.format(1500) == "1500")
    }

    @Test("remind_every and quiet_period default to 5m and 1m; 0 turns either off")
    func notificationTiming() throws {
        let defaults = try ConfigSiteFixture(site: configBaseSite).load().get()
        #expect(defaults.model.remindEvery == .seconds(300) && defaults.model.quietPeriod == .seconds(60))
        let set = try ConfigSiteFixture(
            site: configBaseSite.editedConfig(
                "alert_log: state/alerts.jsonl\n", "alert_log: state/alerts.jsonl\nremind_every: 10m\nquiet_period: 30s\n")
        ).load().get()
        #expect(set.model.remindEvery == .seconds(600) && set.model.quietPeriod == .seconds(30))
        let off = try ConfigSiteFixture(
            site: configBaseSite.editedConfig(
                "alert_log: state/alerts.jsonl\n", "alert_log: state/alerts.jsonl\nremind_every: 0\nquiet_period: 0\n")
        ).load().get()
        #expect(off.model.remindEvery == nil && off.model.quietPeriod == .zero)
        #expect(defaults.notify.allSatisfy { $0.heartbeat == nil })
        let supervised = try ConfigSiteFixture(
            site: configBaseSite.editedConfig("timeout: 2s }", "timeout: 2s, heartbeat: 1h }")
        ).load().get()
        #expect(supervised.notify.first { $0.name == "ops" }?.heartbeat == .seconds(3600))
    }

    @Test("shipped profiles are found from FIREWATCH_DEVICES, an installed prefix, or the checkout")
    func shippedLocation() throws {
        #expect(
            ProfileLocator.shippedDevicesDirectory(
                environment: ["FIREWATCH_DEVICES": "/x/devices"], executablePath: nil) == "/x/devices")
        let built = (configRepositoryFolder as NSString).appendingPathComponent(".build/debug/firewatch")
        #expect(ProfileLocator.shippedDevicesDirectory(environment: [:], executablePath: built) == shippedDevicesFolder)
        #expect(
            ProfileLocator.shippedDevicesDirectory(environment: [:], executablePath: "/nonexistent/bin/firewatch")
                == nil)
    }
}

@Suite("Configuration values")
struct ConfigValueTests {
    @Test("durations: 500ms 1s 2m 1h 1.5s parse; everything else does not")
    func durations() {
        #expect(Duration(configText: "500ms") == .milliseconds(500))
        #expect(Duration(configText: "1s") == .seconds(1))
        #expect(Duration(configText: "2m") == .seconds(120))
        #expect(Duration(configText: "1h") == .seconds(3600))
        #expect(Duration(configText: "1.5s") == .milliseconds(1500))
        for bad in ["", "1", "s", "1 s", "1m30s", "-1s", "1d", "1.s", ".5s", "1sec", "ms"] {
            #expect(Duration(configText: bad) == nil, "\(bad)")
        }
        #expect(Duration.milliseconds(500).configText == "500ms")
        #expect(Duration.seconds(90).configText == "90s")
        #expect(Duration.seconds(120).configText == "2m")
        #expect(Duration.milliseconds(1500).configText == "1.5s")
    }

    @Test("did you mean: close names only")
    func suggestions() {
        #expect(Suggestion.closest(to: "pol_interval", in: SiteLoader.siteFields) == "poll_interval")
        #expect(Suggestion.closest(to: "temprature", in: ["temperature", "humidity"]) == "temperature")
        #expect(Suggestion.closest(to: "zzz", in: ["temperature", "humidity"]) == nil)
        #expect(Suggestion.distance("kitten", "sitting") == 3)
    }

    @Test("host:port parsing")
    func hostPort() {
        #expect(HostPort(parsing: "127.0.0.1:9780") == HostPort(host: "127.0.0.1", port: 9780))
        #expect(HostPort(parsing: "[::1]:502") == HostPort(host: "::1", port: 502))
        #expect(HostPort(parsing: "127.0.0.1") == nil)
        #expect(HostPort(parsing: "h:70000") == nil)
    }
}

@Suite("Simulator pass-through")
struct ConfigSimulateTests {
    @Test("profiles pass simulate texts through, keyed by point, point.bit and command, with their place")
    func profileTexts() throws {
        let text = """
            name: T
            source: s
            points:
              temp: { table: input, address: 1, type: int16, simulate: room_temperature }
              events: { table: input, address: 2, type: bits, bits: { 1: hot }, simulate: { hot: bms_over_temp_alarm } }
            commands:
              trip: { table: coil, address: 0, value: true, simulate: "open_feed[1]" }
            """
        let profile = try ProfileLoader.parse(text: text, file: "t.yaml")
        let texts = profile.simulateTexts
        #expect(texts.points == ["temp": "room_temperature", "events.hot": "bms_over_temp_alarm"])
        #expect(texts.commands == ["trip": "open_feed[1]"])
        let located = try #require(profile.point(named: "temp")?.simulate)
        #expect((located.file, located.line, located.field) == ("t.yaml", 4, "points.temp.simulate"))
    }

    @Test("a simulate text for a bit the point does not have is an error")
    func unknownBit() {
        let text =
            "name: T\nsource: s\npoints:\n  e: { table: input, address: 2, type: bits, bits: { 1: hot }, simulate: { hto: x } }\n"
        let result = Result { () throws(ConfigErrors) in try ProfileLoader.parse(text: text, file: "t.yaml") }
        guard case .failure(let errors) = result else {
            Issue.record("loaded")
            return
        }
        expectConfigError(
            errors.errors, line: 4, field: "points.e.simulate.hto", words: ["not a bit of e", "did you mean 'hot'"])
    }

    @Test("every shipped profile carries simulate texts for the points the example site uses")
    func shippedTexts() throws {
        let example = (configRepositoryFolder as NSString).appendingPathComponent("examples/site.yaml")
        let site = try SiteLoader(shippedDevices: shippedDevicesFolder).load(path: example)
        for zone in site.model.zones {
            for signal in zone.signals {
                for source in signal.sources {
                    let texts = try #require(site.profile(of: source.device)).simulateTexts.points
                    let key = source.bit.map { "\(source.point).\($0)" } ?? source.point
                    #expect(texts[key] != nil, "\(source) has no simulate text")
                }
            }
            for case .command(let device, let command) in zone.isolate + zone.suppress + zone.powerCut {
                #expect(site.profile(of: device)?.simulateTexts.commands[command] != nil, "\(device).\(command)")
            }
        }
    }

    @Test("sites pass zone and device simulate settings through")
    func siteSettings() throws {
        let text =
            configBaseSite
            .editedConfig("  room:\n", "  room:\n    simulate: { strings: 4, feeds: 2 }\n")
            .editedConfig("port: 1504 }", "port: 1504, simulate: { powered_by_feed: 1 } }")
        let site = try ConfigSiteFixture(site: text).load().get()
        #expect(site.zoneSimulation["room"]?.mapValues(\.text) == ["strings": "4", "feeds": "2"])
        #expect(site.device(named: "gas")?.simulate["powered_by_feed"]?.text == "1")
    }
}

import Foundation
import SiteConfig
import Testing
@testable import Gateway

/// One validation rule of the site file: an edit of the base site that breaks it, and the error expected.
struct SiteRule: Sendable, CustomTestStringConvertible {
    let rule: String
    let edits: [Edit]
    /// Text on the line the error must point at (after the edits).
    let marker: String
    let field: String?
    let words: [String]

    struct Edit: Sendable {
        let old: String
        let new: String
    }

    init(_ rule: String, _ edits: [(String, String)], at marker: String, field: String? = nil, _ words: [String]) {
        self.rule = rule
        self.edits = edits.map { Edit(old: $0.0, new: $0.1) }
        self.marker = marker
        self.field = field
        self.words = words
    }

    var testDescription: String { rule }
}

let siteRules: [SiteRule] = [
    SiteRule(
        "alert log rotation size must be a size of at least 1KiB",
        [("alert_log: state/alerts.jsonl\n", "alert_log: state/alerts.jsonl\nalert_log_max_size: 16MB\n")],
        at: "alert_log_max_size", field: "alert_log_max_size", ["not a size of at least 1KiB", "16MiB"]),
    SiteRule(
        "alert log keep is a count from 1",
        [("alert_log: state/alerts.jsonl\n", "alert_log: state/alerts.jsonl\nalert_log_keep: 0\n")],
        at: "alert_log_keep", field: "alert_log_keep", ["outside 1…1000", "rotated files"]),
    SiteRule(
        "reminders come no faster than the polls",
        [("alert_log: state/alerts.jsonl\n", "alert_log: state/alerts.jsonl\nremind_every: 500ms\n")],
        at: "remind_every", field: "remind_every", ["shorter than the poll interval", "0 to send no reminders"]),
    SiteRule(
        "a heartbeat more often than once a minute would flood the channel",
        [("timeout: 2s }", "timeout: 2s, heartbeat: 10s }")],
        at: "heartbeat: 10s", field: "notify.ops.heartbeat", ["would flood the channel", "at least 1m; 1h is usual"]),
    SiteRule(
        "a heartbeat must outlast the channel's timeout",
        [("timeout: 2s }", "timeout: 2m, heartbeat: 1m }")],
        at: "heartbeat: 1m", field: "notify.ops.heartbeat", ["must be longer than the channel's timeout (2m)"]),
    SiteRule(
        "a quiet period of more than 15 minutes would hide a real change",
        [("alert_log: state/alerts.jsonl\n", "alert_log: state/alerts.jsonl\nquiet_period: 1h\n")],
        at: "quiet_period", field: "quiet_period", ["longer than 15m", "0 to send every change"]),
    SiteRule(
        "unknown field suggests the right one", [("poll_interval: 1s", "pol_interval: 1s")], at: "pol_interval",
        field: "pol_interval", ["unknown field", "did you mean 'poll_interval'"]),
    SiteRule(
        "missing required field",
        [
            (
                "  t2:    { profile: sensor/temperature-humidity, host: 127.0.0.1, port: 1502 }",
                "  t2:    { profile: sensor/temperature-humidity, port: 1502 }"
            )
        ],
        at: "  t2:", field: "devices.t2", ["missing field 'host'"]),
    SiteRule(
        "missing top-level field", [("alert_log: state/alerts.jsonl\n", "")], at: "site: test-site", field: "",
        ["missing field 'alert_log'"]),
    SiteRule(
        "duration without unit", [("poll_interval: 1s", "poll_interval: 500")], at: "poll_interval",
        field: "poll_interval",
        ["not a duration", "500ms", "add a unit"]),
    SiteRule(
        "compound duration", [("delay: 30s", "delay: 1m30s")], at: "delay:", field: "zones.room.suppress[1].delay",
        ["'1m30s' is not a duration"]),
    SiteRule(
        "duration with a space", [("timeout: 2s }", "timeout: 2 s }")], at: "ops:", field: "notify.ops.timeout",
        ["'2 s' is not a duration"]),
    SiteRule(
        "unknown profile suggests the shipped one", [("profile: sensor/offgas", "profile: sensor/ofgas")], at: "gas:",
        field: "devices.gas.profile", ["unknown profile 'sensor/ofgas'", "did you mean 'sensor/offgas'"]),
    SiteRule(
        "profile reference of the wrong shape", [("profile: sensor/offgas", "profile: offgas")], at: "gas:",
        field: "devices.gas.profile", ["neither kind/name nor a .yaml file"]),
    SiteRule(
        "unknown device in a source", [("[gas.offgas]", "[gaz.offgas]")], at: "offgas: { sources",
        field: "zones.room.signals.offgas.sources[0]",
        ["unknown device 'gaz'", "did you mean 'gas'"]),
    SiteRule(
        "unknown point in a source", [("t3.temperature]", "t3.temprature]")], at: "temperature: {",
        field: "zones.room.signals.temperature.sources[2]",
        ["has no point 'temprature'", "did you mean 'temperature'"]),
    SiteRule(
        "unknown bit in a source", [("bms.events.over_temp_alarm", "bms.events.overtemp_alarm")], at: "battery: {",
        field: "zones.room.signals.battery.sources[0]",
        ["has no bit 'overtemp_alarm'", "did you mean 'over_temp_alarm'"]),
    SiteRule(
        "a bits point needs a bit", [("bms.events.over_temp_alarm", "bms.events")], at: "battery: {",
        field: "zones.room.signals.battery.sources[0]", ["set of bits", "bms.events.<bit>"]),
    SiteRule(
        "a bit on a point without bits", [("[gas.offgas]", "[gas.offgas.detected]")], at: "offgas: {",
        field: "zones.room.signals.offgas.sources[0]", ["has no named bits"]),
    SiteRule(
        "unknown command in a step", [("command: panel.release", "command: panel.relase")], at: "panel.relase",
        field: "zones.room.suppress[2].command", ["no command 'relase'", "did you mean 'release'"]),
    SiteRule(
        "a point is not a command", [("command: panel.release", "command: panel.status")], at: "panel.status",
        field: "zones.room.suppress[2].command", ["'status' is a point, not a command"]),
    SiteRule(
        "unknown notify channel", [("notify: [ops]", "notify: [opps]")], at: "notify: [opps]",
        field: "zones.room.isolate[1].notify[0]", ["unknown notify channel 'opps'", "did you mean 'ops'"]),
    SiteRule(
        "vote must fit the number of sources", [("vote: 2oo3", "vote: 2oo2")], at: "temperature: {",
        field: "zones.room.signals.temperature.vote", ["vote 2oo2 needs 2 sources", "has 3", "2oo3"]),
    SiteRule(
        "unknown vote", [("vote: 2oo3", "vote: 2of3")], at: "temperature: {",
        field: "zones.room.signals.temperature.vote",
        ["unknown vote '2of3'", "did you mean '2oo3'"]),
    SiteRule(
        "more than three sources need splitting",
        [
            (
                "[t1.temperature, t2.temperature, t3.temperature], vote: 2oo3,",
                "[t1.temperature, t2.temperature, t3.temperature, ups.battery_temperature],"
            )
        ],
        at: "temperature: {", field: "zones.room.signals.temperature.sources", ["4 sources", "1 to 3"]),
    SiteRule(
        "thresholds out of order", [("alert: 35, alarm: 50", "alert: 55, alarm: 50")], at: "temperature: {",
        field: "zones.room.signals.temperature.alarm", ["alarm (50) is below alert (55)", "alert ≤ alarm ≤ fire"]),
    SiteRule(
        "a threshold above the sensor's range can never be reached", [("fire: 55 }", "fire: 70 }")],
        at: "temperature: {", field: "zones.room.signals.temperature.fire",
        ["70 is above what temperature can report", "-40…60 °C", "never be reached", "covers the threshold"]),
    SiteRule(
        "a threshold below the sensor's range is always reached", [("alert: 35,", "alert: -50,")],
        at: "temperature: {", field: "zones.room.signals.temperature.alert",
        ["-50 is below the range of temperature", "every valid reading reaches it"]),
    SiteRule(
        "ordered enum thresholds out of order",
        [("alert: alert, alarm: action, fire: fire1", "alert: alert, alarm: fire1, fire: action")],
        at: "smoke: { sources", field: "zones.room.signals.smoke.fire", ["below alarm"]),
    SiteRule(
        "a number threshold on an enum source", [("alert: detected, alarm: detected", "alert: 1, alarm: detected")],
        at: "offgas: {", field: "zones.room.signals.offgas.alert", ["'1' is not a value of offgas", "clear, detected"]),
    SiteRule(
        "an enum name on a numeric source", [("alert: 35,", "alert: hot,")], at: "temperature: {",
        field: "zones.room.signals.temperature.alert", ["expected a number", "°C", "text 'hot'"]),
    SiteRule(
        "a number on a flag source", [("ups.battery_overtemp], alarm: true", "ups.battery_overtemp], alarm: 1")],
        at: "battery: {", field: "zones.room.signals.battery.alarm", ["expected true or false", "flags"]),
    SiteRule(
        "sources of different kinds", [("[gas.offgas]", "[gas.offgas, gas.lfl_percent]")], at: "offgas: {",
        field: "zones.room.signals.offgas.sources", ["sources mix", "gas.lfl_percent (number)"]),
    SiteRule(
        "same source twice",
        [("[t1.temperature, t2.temperature, t3.temperature]", "[t1.temperature, t1.temperature, t3.temperature]")],
        at: "temperature: {", field: "zones.room.signals.temperature.sources[1]", ["listed twice"]),
    SiteRule(
        "a signal without thresholds", [("[gas.offgas], alert: detected, alarm: detected", "[gas.offgas]")],
        at: "offgas: {", field: "zones.room.signals.offgas", ["no threshold"]),
    SiteRule(
        "malformed rate of rise", [("fire: 55 }", "fire: 55, rate_of_rise: fast }")], at: "temperature: {",
        field: "zones.room.signals.temperature.rate_of_rise", ["'fast' is not a rate", "5/min"]),
    SiteRule(
        "rate of rise on an enum",
        [("alert: alert, alarm: action,", "alert: alert, rate_of_rise: 1/min, alarm: action,")],
        at: "smoke: { sources", field: "zones.room.signals.smoke.rate_of_rise", ["numeric signals only"]),
    SiteRule(
        "two devices on one host, port and unit", [("port: 1502", "port: 1501")], at: "  t2:", field: "devices.t2",
        ["t2 and t1", "both 127.0.0.1:1501 unit 1", "fix the port or unit"]),
    SiteRule(
        "unit outside Modbus limits", [("port: 1504 }", "port: 1504, unit: 256 }")], at: "gas:",
        field: "devices.gas.unit",
        ["unit 256 is outside 0…255"]),
    SiteRule(
        "port outside limits", [("port: 1504 }", "port: 70000 }")], at: "gas:", field: "devices.gas.port",
        ["port 70000 is outside 1…65535"]),
    SiteRule(
        "a step does one thing", [("  - notify: [ops]", "  - notify: [ops]\n        delay: 5s")], at: "- notify: [ops]",
        field: "zones.room.isolate[1]", ["a step does one thing", "split it into 2 steps"]),
    SiteRule(
        "timeout belongs to run steps", [("abortable: true", "timeout: 5s")], at: "timeout: 5s",
        field: "zones.room.suppress[1].timeout", ["timeout belongs to `run` steps"]),
    SiteRule(
        "a run program must be a path", [("  - notify: [ops]", "  - run: [failover, --now]")], at: "- run:",
        field: "zones.room.isolate[1].run[0]", ["'failover' is not a path", "$PATH"]),
    SiteRule(
        "a run program must exist", [("  - notify: [ops]", "  - run: [./hooks/missing]")], at: "- run:",
        field: "zones.room.isolate[1].run[0]", ["does not exist or is not executable"]),
    SiteRule(
        "a webhook must be http(s)", [("webhook: \"http://127.0.0.1:9781/hook\"", "webhook: \"ftp://x/hook\"")],
        at: "ops:",
        field: "notify.ops.webhook", ["not an http(s) URL"]),
    SiteRule(
        "an alertmanager must be http(s)",
        [("webhook: \"http://127.0.0.1:9781/hook\"", "alertmanager: \"ftp://127.0.0.1:9093\"")], at: "ops:",
        field: "notify.ops.alertmanager", ["not an http(s) URL", "write the base URL"]),
    SiteRule(
        "an alertmanager is given by its base URL, not its API path",
        [("webhook: \"http://127.0.0.1:9781/hook\"", "alertmanager: \"http://127.0.0.1:9093/api/v2/alerts\"")],
        at: "ops:", field: "notify.ops.alertmanager",
        ["FireWatch appends /api/v2/alerts", "give the base URL, e.g. http://127.0.0.1:9093"]),
    SiteRule(
        "an alertmanager is given by its base URL, not its page",
        [("webhook: \"http://127.0.0.1:9781/hook\"", "alertmanager: \"http://127.0.0.1:9093/#/alerts\"")],
        at: "ops:", field: "notify.ops.alertmanager",
        ["not an Alertmanager's base URL", "no /api/…, query or #fragment"]),
    SiteRule(
        "a channel is one kind of channel",
        [
            (
                "webhook: \"http://127.0.0.1:9781/hook\",",
                "webhook: \"http://127.0.0.1:9781/hook\", alertmanager: \"http://127.0.0.1:9093\","
            )
        ],
        at: "ops:", field: "notify.ops", ["not `alertmanager:` and `webhook:`", "split it into 2 channels"]),
    SiteRule(
        "a channel needs a kind", [("webhook: \"http://127.0.0.1:9781/hook\", ", "")], at: "ops:", field: "notify.ops",
        ["needs `webhook: URL`", "or `alertmanager: URL`", "add one of them"]),
    SiteRule(
        "stale_after must outlast a poll", [("poll_interval: 1s", "poll_interval: 1s\nstale_after: 1s")],
        at: "stale_after",
        field: "stale_after", ["must be longer than the slowest poll interval"]),
    SiteRule(
        "power cut is scoped to one zone",
        [
            (
                "    power_cut:\n      - command: feed.open_feed_1",
                "    power_cut:\n      - command: feed.open_feed_1\n  annex:\n    signals:\n"
                    + "      offgas: { sources: [gas.offgas], alert: detected }\n"
                    + "    power_cut:\n      - command: feed.open_feed_1  # annex"
            )
        ],
        at: "# annex", field: "zones.annex.power_cut[0].command", ["already in the power_cut of zone room", "scoped"]),
    SiteRule(
        "control socket path too long",
        [
            (
                "control_socket: state/control.sock",
                "control_socket: state/" + String(repeating: "x", count: 120) + ".sock"
            )
        ],
        at: "control_socket", field: "control_socket", ["Unix sockets allow 107"]),
    SiteRule(
        "duplicated key", [("  t3:    {", "  t2:    {")], at: "  t2:", field: nil, ["'t2' appears more than once"]),
    SiteRule(
        "merge keys are refused", [("site: test-site", "site: test-site\n<<: {}")], at: "<<:", field: nil,
        ["merge keys"]),
    SiteRule(
        "names with dots are refused", [("  t1:    {", "  t.1:   {")], at: "t.1", field: "devices.t.1",
        ["not a valid device name"]),
    SiteRule(
        "suppression needs two kinds of evidence at fire",
        [("alert: alert, alarm: action, fire: fire1", "alert: alert, alarm: action")],
        at: "suppress:", field: "zones.room.suppress", ["two different kinds", "only temperature"]),
    SiteRule(
        "isolation needs an alarm threshold",
        [
            ("alarm: 50, ", ""), ("alert: detected, alarm: detected", "alert: detected"),
            ("alarm: action, ", ""), ("ups.battery_overtemp], alarm: true", "ups.battery_overtemp], alert: true"),
        ],
        at: "isolate:", field: "zones.room.isolate", ["no signal", "`alarm:` threshold", "can never run"]),
    SiteRule(
        "a rate of rise needs readings often enough to ever compute",
        [("poll_interval: 1s", "poll_interval: 20s"), ("fire: 55 }", "fire: 55, rate_of_rise: 5/min }")],
        at: "temperature: {", field: "zones.room.signals.temperature.rate_of_rise",
        ["over 1m needs a reading at least every 10s", "t1 is polled every 20s", "`rate_window:` (at least 2m)"]),
    SiteRule(
        "enum threshold name typo", [("fire: fire1", "fire: fir1")], at: "smoke: { sources",
        field: "zones.room.signals.smoke.fire",
        ["'fir1' is not a value of level", "did you mean 'fire1'"]),
]

@Suite("Site validation")
struct ConfigSiteValidationTests {
    @Test("the base site of these tests is valid")
    func baseIsValid() throws {
        let fixture = try ConfigSiteFixture(site: configBaseSite)
        let site = try fixture.load().get()
        #expect(site.model.zones.map(\.name) == ["room"])
        #expect(site.devices.count == 9)
    }

    @Test("each rule reports the line, the field and what to do", arguments: siteRules)
    func rule(_ rule: SiteRule) throws {
        let text = rule.edits.reduce(configBaseSite) { $0.editedConfig($1.old, $1.new) }
        let fixture = try ConfigSiteFixture(site: text)
        let errors = fixture.errors()
        #expect(!errors.isEmpty, "\(rule.rule): the site loaded")
        expectConfigError(errors, line: fixture.line(of: rule.marker), field: rule.field, words: rule.words)
        // Every error names the file and a position, and says what to do.
        for error in errors {
            #expect(error.file.hasSuffix("site.yaml") || error.file.hasSuffix(".yaml"))
            #expect(error.line > 0, "\(error)")
            #expect(error.hint != nil, "\(error) has no hint")
        }
    }

    @Test("every error is reported, not only the first")
    func allErrors() throws {
        let text =
            configBaseSite
            .editedConfig("poll_interval: 1s", "pol_interval: 1s")
            .editedConfig("vote: 2oo3", "vote: 2oo2")
            .editedConfig("notify: [ops]", "notify: [opps]")
            .editedConfig("fire: fire1", "fire: fir1")
        let errors = try ConfigSiteFixture(site: text).errors()
        #expect(errors.count == 4)
        let lines = errors.map(\.line)
        #expect(lines == lines.sorted(), "errors come in file order")
    }

    @Test("hosts need not be loopback in a site file (real sites)")
    func realHosts() throws {
        // A config parse only: nothing here connects to the address.
        let text = configBaseSite.editedConfig("host: 127.0.0.1, port: 1501", "host: 10.0.1.21, port: 502")  // parse only
        let site = try ConfigSiteFixture(site: text).load().get()
        #expect(site.device(named: "t1")?.endpoint == "10.0.1.21:502 unit 1")  // parsed only, never connected
    }

    @Test("an empty file says so")
    func emptyFile() throws {
        let errors = try ConfigSiteFixture(site: "# nothing here\n").errors()
        #expect(errors.count == 1)
        #expect(errors.first?.message == "is empty")
    }

    @Test("a file that is not YAML points at the broken line")
    func notYAML() throws {
        let text = "site: x\ndevices: [a, b\nzones: {}\n"
        let errors = try ConfigSiteFixture(site: text).errors()
        #expect(errors.count == 1)
        #expect(errors.first?.message.contains("is not valid YAML") == true)
        #expect((errors.first?.line ?? 0) >= 2)
    }

    @Test("a YAML scalar instead of a mapping is a clear error")
    func scalarFile() throws {
        let errors = try ConfigSiteFixture(site: "just some words\n").errors()
        expectConfigError(errors, line: 1, words: ["expected a site file", "text 'just some words'"])
    }

    @Test("binary files are refused")
    func binaryFile() throws {
        let fixture = try ConfigSiteFixture(site: "site: x\n")
        try Data([0x7f, 0x45, 0x4c, 0x46, 0x00, 0xff, 0xfe]).write(to: URL(fileURLWithPath: fixture.sitePath))
        let errors = fixture.errors()
        #expect(errors.count == 1)
        #expect(errors.first.map { $0.message.contains("not UTF-8") || $0.message.contains("NUL") } == true)
    }

    @Test("files over 1 MiB are refused before parsing")
    func hugeFile() throws {
        let fixture = try ConfigSiteFixture(site: "site: x\n")
        let big = "# " + String(repeating: "x", count: 80) + "\n"
        try String(repeating: big, count: (1 << 20) / big.utf8.count + 10).write(
            toFile: fixture.sitePath, atomically: true, encoding: .utf8)
        let errors = fixture.errors()
        #expect(errors.count == 1)
        #expect(errors.first?.message.contains("1 MiB") == true)
    }

    @Test("a missing file is one error naming it")
    func missingFile() {
        let result = Result { () throws(ConfigErrors) in
            try SiteLoader(shippedDevices: shippedDevicesFolder).load(path: "/nonexistent/site.yaml")
        }
        guard case .failure(let errors) = result else {
            Issue.record("loaded a missing file")
            return
        }
        #expect(errors.errors.map(\.message) == ["file not found"])
    }

    @Test("alias bombs are bounded")
    func aliasBomb() throws {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1..<8 {
            let refs = Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ")
            text += "a\(level): &a\(level) [\(refs)]\n"
        }
        text += "site: x\nalert_log: a\ndevices:\n  d: { profile: sensor/offgas, host: h, notes: *a7 }\nzones: {}\n"
        let errors = try ConfigSiteFixture(site: text).errors()
        #expect(!errors.isEmpty)
    }
}

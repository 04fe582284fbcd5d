import FireSafety
import Gateway
import Foundation
import Simulator
import SiteConfig

/// The demo's closing summary of a scenario run, in words: what happened when, how long from the first
/// off-gas to isolation, which writes went to which device, what was never touched, and the verdicts.
public enum ScenarioSummary {
    /// The summary as lines (no colour: it is meant to be read, copied and pasted).
    public static func render(_ report: ScenarioReport, site: LoadedSite) -> String {
        var lines: [String] = []
        let scenario = report.scenario
        let real =
            Double(report.realDuration.components.seconds)
            + Double(report.realDuration.components.attoseconds) / 1e18
        lines.append(
            "━━ \(scenario.name): \(spoken(scenario.duration)) of site time in "
                + "\(String(format: "%.1f", real)) s (\(speedText(report.speed))x) ━━")
        if report.interrupted {
            lines.append(
                "Interrupted at \(offset(report.ran)): everything below is about the part that ran, and the "
                    + "expectations are not judged as a whole.")
        }
        lines.append("")
        lines.append("What happened (site time since the scenario started):")
        for (at, source, text) in timeline(report) {
            lines.append("  \(offset(at))  \(source.padding(toLength: 9, withPad: " ", startingAt: 0))  \(text)")
        }
        lines.append("")
        lines.append(contentsOf: offgasToIsolation(report))
        lines.append("")
        lines.append("Writes (what FireWatch wrote to which device, site time):")
        let written = Dictionary(grouping: report.writes, by: \.device)
        if written.isEmpty { lines.append("  none") }
        for device in site.devices.map(\.name) where written[device] != nil {
            let items = written[device]!.map { write -> String in
                let name = write.command ?? "\(write.table.rawValue) \(write.address) (no such command)"
                return "\(name) \(offset(write.at))"
            }
            lines.append(
                "  \(device.padding(toLength: 9, withPad: " ", startingAt: 0))\(items.joined(separator: ", "))")
        }
        lines.append("")
        lines.append("Never touched:")
        let untouched = site.devices.map(\.name).filter { written[$0] == nil }
        lines.append("  devices without a write: \(untouched.joined(separator: ", "))")
        for zone in report.zones {
            let states = report.observations.compactMap { observation -> String? in
                if case .zoneState(zone.name, let state) = observation.kind { return state }
                return nil
            }
            let closed = zone.feedsClosed.enumerated().filter(\.element).map { "\($0.offset + 1)" }
            let connected = zone.strings.filter(\.connected).count
            let feeds =
                closed.count == zone.feedsClosed.count
                ? "all \(closed.count) feeds still closed (powered)"
                : "feeds closed: \(closed.isEmpty ? "none" : closed.joined(separator: ", "))"
                    + " of \(zone.feedsClosed.count)"
            if states.isEmpty {
                lines.append(
                    "  \(zone.name): stayed normal; \(feeds); \(connected) of \(zone.strings.count) strings connected")
            } else {
                lines.append(
                    "  \(zone.name): went \(states.joined(separator: " → ")); \(feeds); "
                        + "\(connected) of \(zone.strings.count) strings connected")
            }
        }
        lines.append("")
        lines.append("Expectations (\(scenario.file)):")
        for result in report.results {
            lines.append("  \(result.passed ? "PASS" : "FAIL")  \(result.expectation) — \(result.detail)")
        }
        let failed = report.results.filter { !$0.passed }.count
        if report.interrupted {
            lines.append("Interrupted: \(failed) of \(report.results.count) expectations failed in the part that ran.")
        } else {
            lines.append(
                failed == 0
                    ? "All \(report.results.count) expectations hold."
                    : "\(failed) of \(report.results.count) expectations FAILED.")
        }
        return lines.joined(separator: "\n")
    }

    /// `+01:20.5`: minutes and seconds since the scenario started.
    public static func offset(_ duration: Duration) -> String {
        let tenths = max(
            0, Int((Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18) * 10))
        let minutes = tenths / 600
        let seconds = Double(tenths % 600) / 10
        return "+" + String(format: "%02d:%04.1f", minutes, seconds)
    }

    /// `15 min`, `90 s`: a scenario's length for people.
    public static func spoken(_ duration: Duration) -> String {
        let seconds = duration.components.seconds
        if seconds >= 60, seconds % 60 == 0 { return "\(seconds / 60) min" }
        return "\(seconds) s"
    }

    static func speedText(_ speed: Double) -> String {
        speed == speed.rounded() ? String(Int(speed)) : String(format: "%.1f", speed)
    }

    /// Scenario and model events, and the daemon's decisions, in time order.
    static func timeline(_ report: ScenarioReport) -> [(Duration, String, String)] {
        var items: [(Duration, String, String)] = []
        for event in report.events {
            switch event.kind {
            case .scenario(let item): items.append((event.at, "scenario", ScenarioEventText.describe(item.event)))
            case .model(let model):
                guard let text = modelText(model) else { continue }
                items.append((event.at, "physics", text))
            case .write: continue
            }
        }
        var troubled: Set<String> = []
        for record in report.records where record.time >= report.start {
            let at = report.offset(record)
            switch record.event {
            case .zoneState:
                items.append((at, "firewatch", record.message))
            case .deviceCommLost, .deviceCommRestored, .stepFailed, .stepAborted, .operatorAbort, .operatorResume,
                .logNotDurable, .logDurable, .pollLate, .pollOnTime:
                items.append((at, "firewatch", record.message))
            case .pointInvalid, .pointStale:
                // Once per device: the first says what the trouble was, the rest repeat it.
                guard let device = record.device, troubled.insert(device).inserted else { continue }
                items.append((at, "firewatch", record.message))
            default: continue
            }
        }
        return items.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }.map(\.element)
    }

    /// A simulator event as one line of the live view (`scenario  …`, `physics   …`); nil for writes (the
    /// daemon's step records show those) and for model events that only repeat a scenario line.
    public static func liveLine(_ event: HostEvent) -> String? {
        switch event.kind {
        case .scenario(let item): return "\(offset(event.at))  scenario   \(ScenarioEventText.describe(item.event))"
        case .model(let model): return modelText(model).map { "\(offset(event.at))  physics    \($0)" }
        case .write: return nil
        }
    }

    static func modelText(_ event: ModelEvent) -> String? {
        let string = event.string.map { "string \($0)" } ?? "a string"
        switch event.kind {
        case .abuseStarted: return nil  // the scenario line already says so
        case .ventingStarted: return "\(event.zone): \(string) vents electrolyte gas (first off-gas)"
        case .pointOfNoReturn: return "\(event.zone): \(string) is past the point of no return"
        case .pulledBack: return "\(event.zone): \(string) cools down: isolation came in time"
        case .runaway: return "\(event.zone): \(string) goes into thermal runaway"
        case .ignition: return "\(event.zone): \(string) catches fire"
        case .knockedDown: return "\(event.zone): the agent knocks the flames down (not the runaway's heat)"
        case .burnt: return "\(event.zone): \(string) has burnt out"
        case .released: return "\(event.zone): the suppression agent is released"
        case .effectApplied: return event.effect.map { "\(event.zone): \($0) takes effect" }
        }
    }

    /// "string 2 vented at …; FireWatch isolated the zone at …: N s later".
    static func offgasToIsolation(_ report: ScenarioReport) -> [String] {
        let vents = report.events.compactMap { event -> ModelEvent? in
            if case .model(let model) = event.kind, model.kind == .ventingStarted { return model }
            return nil
        }
        guard let vent = vents.first else { return ["Off-gas to isolation: no string vented in this scenario."] }
        let order = ZoneState.allCases.map(\.rawValue)
        let isolatedIndex = order.firstIndex(of: ZoneState.isolated.rawValue)!
        var acted: Duration?
        var isolated: Duration?
        for observation in report.observations.sorted(by: { $0.at < $1.at }) {
            guard case .zoneState(vent.zone, let state) = observation.kind, observation.at >= vent.at else { continue }
            if acted == nil { acted = observation.at }
            if isolated == nil, let index = order.firstIndex(of: state), index >= isolatedIndex {
                isolated = observation.at
            }
        }
        let string = vent.string.map { "string \($0)" } ?? "a string"
        var line = "Off-gas to isolation: \(string) of \(vent.zone) vented at \(offset(vent.at))"
        if let acted { line += "; FireWatch acted at \(offset(acted))" }
        guard let isolated else { return [line + "; the zone was never isolated."] }
        let seconds =
            Double((isolated - vent.at).components.seconds)
            + Double((isolated - vent.at).components.attoseconds) / 1e18
        return [
            line
                + "; isolated at \(offset(isolated)): \(String(format: "%.1f", seconds)) s"
                + " from first off-gas to isolation."
        ]
    }
}

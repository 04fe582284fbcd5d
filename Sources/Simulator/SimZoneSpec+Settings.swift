import Foundation
import SiteConfig

extension SimZoneSpec {
    /// The settings a site file may give a simulated zone, as plain texts (phase 2's loader passes
    /// them through like `simulate:` texts): `strings: 4`, `feeds: 2`, `charger_feed: 1`,
    /// `hvac_feed: 2`, `exhaust_feed: none`, and timing overrides `vent_delay`, `point_of_no_return`,
    /// `runaway_after_venting`, `propagation_delay`, `panel_pre_discharge`, `readback_lag` (durations).
    public static let settingKeys = [
        "strings", "feeds", "charger_feed", "hvac_feed", "exhaust_feed", "vent_delay", "point_of_no_return",
        "runaway_after_venting", "propagation_delay", "panel_pre_discharge", "readback_lag",
    ]

    /// Builds a zone from its settings; a bad one is thrown with its key set.
    public init(name: String, settings: [String: String]) throws(BindingError) {
        self.init(name: name)
        for key in settings.keys.sorted() {
            let text = settings[key]!.trimmingCharacters(in: .whitespaces)
            func count() throws(BindingError) -> Int {
                guard let number = Int(text), number >= 1 else {
                    throw BindingError(
                        text: text, problem: "'\(text)' is not a number from 1", hint: "write e.g. 4", key: key)
                }
                return number
            }
            func feed() throws(BindingError) -> Int? { text == "none" ? nil : try count() }
            func duration() throws(BindingError) -> Duration {
                guard let duration = DurationText.parse(text) else {
                    throw BindingError(
                        text: text, problem: "'\(text)' is not a duration", hint: "write e.g. 90s", key: key)
                }
                return duration
            }
            switch key {
            case "strings": strings = try count()
            case "feeds": feeds = try count()
            case "charger_feed": wiring.chargerFeed = try feed()
            case "hvac_feed": wiring.hvacFeed = try feed()
            case "exhaust_feed": wiring.exhaustFeed = try feed()
            case "vent_delay": parameters.ventDelay = try duration()
            case "point_of_no_return": parameters.pointOfNoReturn = try duration()
            case "runaway_after_venting": parameters.runawayAfterVenting = try duration()
            case "propagation_delay": parameters.propagationDelay = try duration()
            case "panel_pre_discharge": parameters.panelPreDischarge = try duration()
            case "readback_lag": parameters.lags = ReadbackLags(all: try duration())
            default:
                throw BindingError(
                    text: text, problem: "unknown setting '\(key)'",
                    hint: "use one of: \(Self.settingKeys.joined(separator: ", "))", key: key)
            }
        }
    }
}

import Foundation
@testable import Simulator
import FireWatchTesting

/// The two-room example site of CONTRACT.md (-a and -b), bound the way phase 2's profiles will bind it.
enum Fixtures {
    static func devices(room: String, feedForTemp3: Int? = 2) -> [SimDeviceSpec] {
        let zone = "battery-room-\(room)"
        func device(_ name: String, points: [String: String], commands: [String: String] = [:], feed: Int? = nil)
            -> SimDeviceSpec
        {
            // The fixture's texts are known good; a failure here is a bug in the parser.
            let bindings = try! SimBindings(points: points, commands: commands)
            return SimDeviceSpec(name: "\(name)-\(room)", zone: zone, bindings: bindings, poweredByFeed: feed)
        }
        let thermo = ["temperature": "room_temperature", "humidity": "humidity"]
        return [
            device("temp", points: thermo).renamed("temp-\(room)1"),
            device("temp", points: thermo).renamed("temp-\(room)2"),
            device("temp", points: thermo, feed: feedForTemp3).renamed("temp-\(room)3"),
            device("gas", points: ["offgas": "offgas_state", "lfl_percent": "lfl_percent"]),
            device("smoke", points: ["level": "smoke_level", "obscuration": "smoke_obscuration"]),
            device(
                "panel",
                points: [
                    "status": "panel_status", "fire_input": "panel_fire_input", "abort_switch": "panel_abort_switch",
                ],
                commands: ["release": "release", "abort": "abort", "reset": "reset_panel"]),
            device(
                "feed",
                points: [
                    "relay_1": "relay[1]", "relay_2": "relay[2]", "exhaust": "exhaust_running",
                    "hvac": "hvac_running", "dampers": "dampers_open",
                ],
                commands: [
                    "open_feed_1": "open_feed[1]", "open_feed_2": "open_feed[2]", "close_feed_1": "close_feed[1]",
                    "close_feed_2": "close_feed[2]", "start_exhaust": "start_exhaust", "stop_exhaust": "stop_exhaust",
                    "stop_hvac": "stop_hvac", "start_hvac": "start_hvac",
                ]),
            device(
                "bms",
                points: [
                    "string_temp_1": "string_temperature[1]", "string_temp_2": "string_temperature[2]",
                    "string_temp_3": "string_temperature[3]", "string_temp_4": "string_temperature[4]",
                    "events.over_temp_alarm": "bms_over_temp_alarm", "state": "bms_state",
                    "contactor": "contactor_state", "string_state_2": "string_state[2]",
                ],
                commands: ["disconnect_string": "disconnect_strings", "connect_string": "connect_strings"]),
            device(
                "ups",
                points: [
                    "battery_temperature": "ups_battery_temperature", "battery_overtemp": "ups_battery_overtemp",
                    "on_battery": "ups_on_battery", "model": "const Smart-UPS SRT 5000",
                ],
                commands: ["mute": "none"]),
        ]
    }

    static func site(parameters: ModelParameters = ModelParameters()) -> SimSiteSpec {
        SimSiteSpec(
            zones: ["a", "b"].map { SimZoneSpec(name: "battery-room-\($0)", parameters: parameters) },
            devices: devices(room: "a") + devices(room: "b"))
    }

    /// Parameters with no readback lag, for tests about physics rather than readback.
    static var instant: ModelParameters {
        var parameters = ModelParameters()
        parameters.lags = ReadbackLags(all: .zero)
        return parameters
    }

    static var scenarioDirectory: URL {
        URL(fileURLWithPath: Repository.file("examples/scenarios"))
    }
}

extension SimDeviceSpec {
    func renamed(_ name: String) -> SimDeviceSpec {
        var copy = self
        copy.name = name
        return copy
    }
}

import FireSafety
import Foundation
import SiteConfig

extension SimSiteSpec {
    /// The simulated site a loaded site describes: one zone per site zone (settings from its
    /// `simulate:`), one device per site device, bound by its profile's `simulate:` texts.
    ///
    /// A device belongs to the zone its `simulate: { zone: … }` names, else to the first zone whose
    /// signals or steps use it. Every bad text is reported with its file and line.
    public init(site: LoadedSite) throws(SimulationSetupError) {
        var problems: [String] = []
        var zones: [SimZoneSpec] = []
        for zone in site.model.zones {
            let settings = site.zoneSimulation[zone.name] ?? [:]
            do {
                zones.append(try SimZoneSpec(name: zone.name, settings: settings.mapValues(\.text)))
            } catch {
                let located = error.key.flatMap { settings[$0] }
                problems.append(Self.locate(located, fallback: site.file, "zone \(zone.name): \(error)"))
                zones.append(SimZoneSpec(name: zone.name))
            }
        }
        var devices: [SimDeviceSpec] = []
        for device in site.devices {
            guard let profile = site.profile(of: device.name) else {
                problems.append("\(site.file): devices.\(device.name): profile \(device.profile) is not loaded")
                continue
            }
            let texts = profile.simulateTexts
            let bindings: SimBindings
            do {
                bindings = try SimBindings(points: texts.points, commands: texts.commands)
            } catch {
                problems.append(Self.bindingProblem(error, profile: profile, device: device.name))
                continue
            }
            let zoneName: String
            if let named = device.simulate["zone"] {
                guard site.model.zones.contains(where: { $0.name == named.text }) else {
                    let known = site.model.zones.map(\.name).joined(separator: ", ")
                    problems.append(
                        Self.locate(
                            named, fallback: site.file, "zone '\(named.text)' is not on the site; use one of: \(known)")
                    )
                    continue
                }
                zoneName = named.text
            } else if let used = Self.zoneUsing(device.name, in: site.model) {
                zoneName = used
            } else {
                problems.append(
                    "\(site.file): devices.\(device.name): no zone uses this device, so the simulator cannot tell "
                        + "which "
                        + "room it sits in; add `simulate: { zone: <zone> }` to the device")
                continue
            }
            var poweredBy: Int?
            if let feed = device.simulate["powered_by_feed"] {
                if let number = Int(feed.text), number >= 1 {
                    poweredBy = number
                } else if feed.text != "none" {
                    problems.append(
                        Self.locate(
                            feed, fallback: site.file, "'\(feed.text)' is not a feed number; write e.g. 1, or none"))
                }
            }
            for key in device.simulate.keys.sorted() where !["zone", "powered_by_feed"].contains(key) {
                problems.append(
                    Self.locate(
                        device.simulate[key], fallback: site.file,
                        "unknown simulate setting '\(key)' on device \(device.name); use zone or powered_by_feed"))
            }
            devices.append(
                SimDeviceSpec(name: device.name, zone: zoneName, bindings: bindings, poweredByFeed: poweredBy))
        }
        let spec = SimSiteSpec(zones: zones, devices: devices)
        problems += spec.problems().map { "\(site.file): \($0)" }
        guard problems.isEmpty else { throw SimulationSetupError(problems: problems) }
        self = spec
    }

    /// The first zone whose signals read the device or whose steps command it.
    static func zoneUsing(_ device: String, in model: SiteModel) -> String? {
        model.zones.first { zone in
            zone.signals.contains { $0.sources.contains { $0.device == device } }
                || (zone.isolate + zone.suppress + zone.powerCut).contains {
                    if case .command(device, _) = $0 { return true }
                    return false
                }
        }?.name
    }

    static func locate(_ text: LocatedText?, fallback file: String, _ message: String) -> String {
        guard let text else { return "\(file): \(message)" }
        return "\(text.file):\(text.line): \(text.field): \(message)"
    }

    static func bindingProblem(_ error: BindingError, profile: DeviceProfile, device: String) -> String {
        var located: LocatedText?
        if let key = error.key {
            let parts = key.split(separator: ".", maxSplits: 1).map(String.init)
            if let point = profile.point(named: parts[0]) {
                located = parts.count == 2 ? point.simulateBits[parts[1]] : point.simulate
            } else {
                located = profile.command(named: key)?.simulate
            }
        }
        let message = "\(error.problem) (device \(device)); \(error.hint)"
        return locate(located, fallback: profile.name, message)
    }
}

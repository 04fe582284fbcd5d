import FireSafety
import Foundation
import Modbus

/// The `devices:` section and the profiles the devices name.
extension SiteReader {
    mutating func readDevices(_ node: Located, locator: ProfileLocator) {
        guard let list = node.entries(what: "a mapping of device names to devices") else { return }
        if list.isEmpty { node.error("a site needs at least one device", hint: "add devices the zones read") }
        var endpoints: [String: String] = [:]
        for (_, keyNode, value) in list {
            guard let name = keyNode.name(what: "device name"),
                let fields = value.fields(SiteLoader.deviceFields, required: ["profile", "host"], what: "a device")
            else { continue }
            guard let profileNode = fields["profile"], let reference = profileNode.string(what: "a profile"),
                let host = fields["host"]?.string(what: "a host name or address")
            else {
                brokenDevices.insert(name)
                continue
            }
            let port = fields["port"]?.int(in: 1...65535, what: "port") ?? 502
            let unit =
                fields["unit"]?.int(in: 0...255, what: "unit", hint: "Modbus/TCP unit ids are 0…255, usually 1")
                ?? 1
            var device = DeviceConfig(name: name, profile: reference, host: host, port: port, unit: unit)
            device.pollInterval = positiveDuration(fields["poll_interval"])
            device.timeout = positiveDuration(fields["timeout"])
            device.maxGap = fields["max_gap"]?.int(in: 0...124, what: "max_gap")
            device.simulate = fields["simulate"]?.locatedTexts(what: "simulator settings") ?? [:]
            if host.isEmpty || host.contains(" ")
                || (host.contains(":") && !host.contains("::") && host.filter({ $0 == ":" }).count == 1)
            {
                fields["host"]?.error(
                    "'\(host)' is not a host name or address", hint: "give the port in `port:`, not in host")
            }
            let endpoint = "\(host.lowercased()):\(port):\(unit)"
            if let other = endpoints[endpoint] {
                let line = deviceNodes[other]?.line ?? 0
                value.error(
                    "\(name) and \(other) (line \(line)) are both \(host):\(port) unit \(unit)",
                    hint: "two devices cannot share host, port and unit; fix the port or unit of one")
            } else {
                endpoints[endpoint] = name
            }
            deviceNodes[name] = keyNode
            if !resolveProfile(reference, node: profileNode, locator: locator) { brokenDevices.insert(name) }
            devices.append(device)
        }
    }

    /// Finds and loads a profile once per reference; false when it cannot be used.
    mutating func resolveProfile(_ reference: String, node: Located, locator: ProfileLocator) -> Bool {
        if profiles[reference] != nil { return true }
        if brokenProfiles.contains(reference) { return false }
        brokenProfiles.insert(reference)
        let found: (path: String, origin: ProfileOrigin)
        if ProfileLocator.isFileReference(reference) {
            found = (path(reference), .file)
            guard FileManager.default.fileExists(atPath: found.path) else {
                node.error(
                    "profile file \(found.path) does not exist",
                    hint: "fix the path; a relative one starts at the site file")
                return false
            }
        } else if ProfileLocator.isKindName(reference) {
            guard let located = locator.locate(reference) else {
                let searched = locator.folders.map(\.path).joined(separator: ", ")
                var hint = Suggestion.hint(for: reference, in: locator.available(), noun: "profile")
                if shipped == nil {
                    hint +=
                        "; shipped profiles were not found: set \(ProfileLocator.environmentVariable) "
                        + "to FireWatch's devices/ folder"
                }
                node.error("unknown profile '\(reference)' (searched \(searched))", hint: hint)
                return false
            }
            found = located
        } else {
            node.error(
                "'\(reference)' is neither kind/name nor a .yaml file",
                hint: "write e.g. `profile: sensor/offgas` or `profile: ./devices/my-sensor.yaml`")
            return false
        }
        let before = diagnostics.count
        guard let profile = ProfileLoader.load(path: found.path, displayName: found.path, diagnostics: diagnostics),
            diagnostics.count == before
        else { return false }
        brokenProfiles.remove(reference)
        profiles[reference] = ResolvedProfile(
            reference: reference, path: found.path, origin: found.origin, profile: profile)
        return true
    }

    func profile(of device: String) -> DeviceProfile? {
        devices.first { $0.name == device }.flatMap { profiles[$0.profile]?.profile }
    }
}

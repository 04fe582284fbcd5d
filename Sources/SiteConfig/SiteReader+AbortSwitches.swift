import FireSafety

extension SiteReader {
    /// The abort switches a zone honours: every `role: abort_switch` point of a device its `suppress` steps command
    /// (the releasing panel a countdown ends in), so a site needs no setting and Swift knows no vendor.
    func abortSwitches(commandedBy suppress: [Step]) -> [SourceRef] {
        var devices: [String] = []
        for case .command(let device, _) in suppress where !devices.contains(device) { devices.append(device) }
        return devices.flatMap { device in
            (profile(of: device)?.points ?? []).filter { $0.role == .abortSwitch }.map {
                SourceRef(device: device, point: $0.name)
            }
        }
    }
}

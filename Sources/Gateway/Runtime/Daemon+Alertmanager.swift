import FireSafety
import SiteConfig

/// What the notifier's stateful channels (`alertmanager:`) see besides notifications.
///
/// Not behind the actuation gate, unlike notifications: both gateways of a standby pair keep their latched zones'
/// alerts firing and resolve them on reset, which Alertmanager merges as it does a Prometheus pair's (same labels,
/// one alert). So a takeover, or a standby that missed a relayed reset, never resolves a zone still latched.
extension Daemon {
    /// Every record the journal logged, after its notifications were handed on.
    func follow(_ records: [AlertRecord]) {
        guard !records.isEmpty else { return }
        let channels = actuator.site.withLock { $0.notify }
        for record in records { notifier.follow(record, on: channels) }
    }

    /// After a restart the latched zones fire again at once (the log has their latch, not a record to re-send),
    /// rather than expiring in Alertmanager while still latched.
    func followRestoredLatches() async {
        let site = await core.site
        let now = time.clock.wallNow()
        for zone in await core.zoneStatus {
            guard let latched = zone.latched else { continue }
            let state = zone.state.rawValue
            var record = AlertRecord(
                time: now, site: site.model.site, zone: zone.name, severity: latched.severity, event: .zoneState,
                from: state, to: state, message: "\(zone.name) is \(state) with \(latched) latched (restored at start)",
                level: latched)
            record.test = zone.testUntil != nil
            notifier.follow(record, on: site.notify)
        }
    }

    /// A zone a reload removed has no record to come that would resolve its latch: resolve it now, or Alertmanager
    /// would show it firing until the next restart.
    func followRemovedZones(from previous: LoadedSite, to next: LoadedSite) {
        let kept = Set(next.model.zones.map(\.name))
        let now = time.clock.wallNow()
        for zone in previous.model.zones.map(\.name) where !kept.contains(zone) {
            let record = AlertRecord(
                time: now, site: previous.model.site, zone: zone, severity: .info, event: .zoneState,
                message: "\(zone) is no longer in the configuration (removed by a reload)")
            notifier.follow(record, on: next.notify)
        }
    }
}

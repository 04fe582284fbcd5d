import FireSafety
import SiteConfig

/// `/healthz`: healthy while every device of the running configuration finished a poll within a site-time limit.
enum SiteHealth {
    static func of(_ daemon: Daemon?, maxAge: Duration) async -> Health {
        guard let daemon else { return .unhealthy("the daemon is starting") }
        let status = await daemon.status()
        let limit = maxAge.secondsValue
        var late: [String] = []
        for device in status.devices {
            guard let age = device.lastPollAgeSeconds else {
                late.append("\(device.name) (never polled)")
                continue
            }
            if age > limit { late.append("\(device.name) (last poll \(Int(age)) s ago)") }
        }
        if late.isEmpty { return .healthy }
        return .unhealthy("no poll finished within \(maxAge) for " + late.joined(separator: ", "))
    }

    /// Three poll intervals plus the slowest device's request timeouts, at least 30 s.
    static func defaultMaxAge(_ site: LoadedSite) -> Duration {
        var slowest: Duration = .zero
        for device in site.devices {
            let requests = site.readPlan(for: device).requests.count
            slowest = max(slowest, site.pollInterval(of: device) * 3 + site.timeout(of: device) * (requests + 1))
        }
        return max(slowest, .seconds(30))
    }
}

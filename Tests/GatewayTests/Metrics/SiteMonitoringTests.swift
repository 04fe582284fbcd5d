import Foundation
@testable import Gateway
import Logging
import SiteConfig
import Testing

@Suite("Site monitoring wiring")
struct SiteMonitoringTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func site(metrics: String?) throws -> (ConfigSiteFixture, LoadedSite) {
        let text = """
            site: wiring
            poll_interval: 1s
            alert_log: state/alerts.jsonl
            control_socket: state/control.sock
            \(metrics.map { "metrics: \($0)" } ?? "")
            notify:
              pager: { command: [/bin/true], timeout: 2s }
            devices:
              gas: { profile: sensor/offgas, host: 127.0.0.1, port: 1502 }
            zones:
              room:
                signals:
                  offgas: { sources: [gas.offgas], alert: detected, alarm: detected }
            """
        let fixture = try ConfigSiteFixture(site: text)
        return (fixture, try fixture.load().get())
    }

    @Test("configure puts the observer, the notifier and (with metrics:) the server into the daemon's options")
    func configure() throws {
        let (fixture, site) = try Self.site(metrics: "127.0.0.1:0")
        _ = fixture
        let monitoring = SiteMonitoring(site: site, logger: Self.logger)
        var options = DaemonOptions(logger: Self.logger)
        monitoring.configure(&options)
        #expect(options.observer is MetricsObserver)
        #expect(options.notifier is ChannelNotifier)
        #expect(options.extraServices.count == 1)
        #expect(options.extraServices.first is MetricsServer)
    }

    @Test("without metrics: there is no server, and nothing is bound")
    func noMetrics() throws {
        let (fixture, site) = try Self.site(metrics: nil)
        _ = fixture
        let monitoring = SiteMonitoring(site: site, logger: Self.logger)
        #expect(monitoring.server == nil)
        var options = DaemonOptions(logger: Self.logger)
        monitoring.configure(&options)
        #expect(options.extraServices.isEmpty)
        #expect(options.notifier is ChannelNotifier)
    }

    @Test("/healthz before the daemon is attached says it is starting; the default limit is at least 30 s")
    func healthBeforeAttach() async throws {
        #expect(await SiteMonitoring.health(of: nil, maxAge: .seconds(30)) == .unhealthy("the daemon is starting"))
        let (fixture, site) = try Self.site(metrics: nil)
        _ = fixture
        #expect(SiteMonitoring.defaultHealthMaxAge(site) == .seconds(30))
    }
}

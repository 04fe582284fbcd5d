import Foundation
@testable import Gateway
import Logging
import SiteConfig
import Testing

@Suite("Daemon builder")
struct DaemonBuilderTests {
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

    @Test("the builder gives the daemon the site's channels, a metrics observer and (with metrics:) the server")
    func withMetrics() throws {
        let (fixture, site) = try Self.site(metrics: "127.0.0.1:0")
        _ = fixture
        let daemon = try Daemon.Builder(site: site, options: DaemonOptions(logger: Self.logger)).build()
        #expect(daemon.notifier is ChannelNotifier)
        #expect(daemon.journal.observer is MetricsObserver)
        #expect(daemon.options.extraServices.count == 1)
        #expect(daemon.options.extraServices.first is MetricsServer)
    }

    @Test("without metrics: there is no server, and the channels are still the site's")
    func noMetrics() throws {
        let (fixture, site) = try Self.site(metrics: nil)
        _ = fixture
        let daemon = try Daemon.Builder(site: site, options: DaemonOptions(logger: Self.logger)).build()
        #expect(daemon.options.extraServices.isEmpty)
        #expect(daemon.notifier is ChannelNotifier)
        #expect(daemon.journal.observer is MetricsObserver)
    }

    @Test("a recorder and an observer given to the builder replace the site's channels and metrics")
    func standIns() throws {
        let (fixture, site) = try Self.site(metrics: "127.0.0.1:0")
        _ = fixture
        var builder = Daemon.Builder(site: site, options: DaemonOptions(logger: Self.logger))
        builder.notifier = RecordingNotifier()
        builder.observer = NoRuntimeObserver()
        let daemon = try builder.build()
        #expect(daemon.notifier is RecordingNotifier)
        #expect(daemon.journal.observer is NoRuntimeObserver)
        #expect(daemon.options.extraServices.isEmpty)
    }

    @Test("/healthz before the daemon exists says it is starting; the default limit is at least 30 s")
    func healthBeforeTheDaemon() async throws {
        #expect(await SiteHealth.of(nil, maxAge: .seconds(30)) == .unhealthy("the daemon is starting"))
        let (fixture, site) = try Self.site(metrics: nil)
        _ = fixture
        #expect(SiteHealth.defaultMaxAge(site) == .seconds(30))
    }
}

import AlertLog
import ArgumentParser
import Foundation
import Scenarios
import SiteConfig
import Simulator

extension DemoCommand {
    /// `firewatch demo --scenario gateway-failover`: an etcd member, the simulator and two `firewatch run` processes
    /// in real time; the owner is killed in its pre-discharge and the summary shows the handover.
    func runPair(site: LoadedSite, scenario: Scenario) async throws {
        if speed != nil || keep {
            reportError(
                "\(Self.pairScenario) runs two daemons and etcd in real time (a lease is etcd's, in real seconds): "
                    + "--speed and --keep do not apply to it")
            throw ExitCode(64)
        }
        guard EtcdCluster.findExecutable() != nil else {
            reportError("\(Self.pairScenario) needs etcd: `make deps` installs Debian's etcd-server")
            throw ExitCode(69)
        }
        guard let executable = Bundle.main.executablePath else {
            reportError("cannot tell where this firewatch executable is, to start the two gateways from it")
            throw ExitCode(70)
        }
        let directory = try Self.makeTemporaryDirectory()
        let run = PairDemoRun(
            executable: executable, siteFile: site.file, site: site, scenario: scenario, directory: directory)
        let out = LinePrinter()
        let colour = AlertFormatter.wantsColour(
            isTerminal: isatty(STDOUT_FILENO) == 1, environment: ProcessInfo.processInfo.environment)
        let views = PairDemoRun.gateways.map { gateway in
            LiveView(
                path: run.alertLog(gateway), formatter: AlertFormatter(colour: colour), out: out,
                label: "\(gateway) │ ")
        }
        out.print("FireWatch demo: \(scenario.name) on \(site.file)")
        out.print("  \(scenario.description.trimmingCharacters(in: .whitespacesAndNewlines))")
        out.print(
            "  \(ScenarioSummary.spoken(scenario.duration)) in real time; etcd, both gateways' site files, alert logs "
                + "and sockets in \(directory)")
        out.print("  Starting an etcd member, the simulator, gw-a (until it owns the lease), then gw-b (standby) …")
        out.print("")

        let signals = TerminationSignals()
        let report = try await withThrowingTaskGroup(of: PairDemoReport?.self, returning: PairDemoReport?.self) {
            group in
            group.addTask {
                try await run.run(
                    onEvent: { event in views[0].simulator(event) },
                    onStart: { host in
                        out.print(
                            "Simulator serves \(host.devices.count) devices on 127.0.0.1; gw-a is the owner, gw-b the "
                                + "standby, both polling every device — the scenario starts now.")
                        for view in views { view.start(at: host.start) }
                    },
                    onEnd: { for view in views { view.stop() } },
                    say: { line in out.print("━━ \(line)") })
            }
            group.addTask {
                await signals.wait()
                return nil
            }
            let first: PairDemoReport?? = try await group.next()
            group.cancelAll()
            return first ?? nil
        }
        signals.restore()
        for view in views { view.stop() }
        Self.removeAllButAlertLogs(in: directory)
        guard let report else {
            out.print("Interrupted: both gateways and etcd were stopped; the alert logs are in \(directory).")
            throw ExitCode(1)
        }
        out.print("")
        out.print(ScenarioSummary.render(report.scenario, site: site))
        out.print("")
        out.print(report.render())
        out.print("")
        out.print(
            "Alert logs: " + PairDemoRun.gateways.map { run.alertLog($0) }.joined(separator: ", ")
                + " — read them with `firewatch alerts --log FILE`; nothing else was left behind.")
        if !report.passed {
            out.print("The failover demo FAILED (see above).")
            throw ExitCode(1)
        }
    }

    /// A pair demo leaves only each gateway's alert log behind.
    static func removeAllButAlertLogs(in directory: String) {
        let fm = FileManager.default
        for name in (try? fm.contentsOfDirectory(atPath: directory)) ?? [] {
            let path = directory + "/" + name
            guard PairDemoRun.gateways.contains(name) else {
                try? fm.removeItem(atPath: path)
                continue
            }
            removeAllButAlertLog(in: path)
        }
    }
}

import AlertLog
import ArgumentParser
import FireSafety
import Foundation
import Gateway
import SiteConfig

/// `firewatch check --config site.yaml`: validates the site and its profiles and prints what will run.
struct CheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate a site file and its device profiles, and print what the daemon would run.",
        discussion: """
            Prints every error as file:line:column: error: field: message (hint) and exits 78 when there
            is any. On success prints the devices (and which profile file each uses), the read requests
            per poll, the zones with their votes and thresholds, and the exact steps of each tier.
            Profiles named kind/name are looked up in devices/ beside the site file, then in the site's
            profile_path folders, then in FireWatch's own devices/ folder (set \(ProfileLocator.environmentVariable)
            to override where that is).
            """
    )

    @Option(name: .long, help: "The site file.")
    var config: String

    func run() throws {
        let loader = SiteLoader()
        do {
            let site = try loader.load(path: config)
            print(SiteSummary.render(site))
            print(Self.heldZones(logAt: site.alertLog, zones: site.model.zones.map(\.name)))
            print("ok: \(config) is valid")
        } catch {
            for problem in error.errors { printError(problem.description) }
            printError(
                "\(error.errors.count) error\(error.errors.count == 1 ? "" : "s") in \(config) and the profiles it uses"
            )
            throw ExitCode(78)
        }
    }
}

extension CheckCommand {
    /// The zones the alert log says are in a walk test or inhibited now: what a restart of the daemon keeps.
    static func heldZones(logAt path: String, zones: [String]) -> String {
        guard FileManager.default.fileExists(atPath: path) else {
            return "alert log \(path): none yet, so no zone is in a walk test or inhibited"
        }
        let state: EngineCheckpoint
        do {
            state = try LogRecovery.read(logAt: path).state
        } catch {
            return "alert log \(path): cannot read it (\(error)), so walk tests and inhibits are not shown"
        }
        let now = SystemSiteClock().now()
        var lines: [String] = []
        for zone in state.zones where zones.contains(zone.name) {
            if let until = zone.testUntil, until > now {
                var by = ""
                if let uid = zone.testUid { by = " by " + (zone.testUser.map { "\($0) (uid \(uid))" } ?? "uid \(uid)") }
                lines.append(
                    "  \(zone.name): WALK TEST until \(until) (\(zone.testReason ?? "no reason")\(by)) — nothing runs there")
            }
            if let until = zone.inhibitedUntil, until > now {
                lines.append("  \(zone.name): inhibited until \(until) (\(zone.inhibitReason ?? "no reason"))")
            }
        }
        guard !lines.isEmpty else { return "alert log \(path): no zone is in a walk test or inhibited" }
        return "alert log \(path): held zones (they stay so across a restart until their end):\n"
            + lines.joined(separator: "\n")
    }
}

/// Writes a line to stderr (people's messages; stdout stays for results).
private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

import ArgumentParser
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

/// Writes a line to stderr (people's messages; stdout stays for results).
private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

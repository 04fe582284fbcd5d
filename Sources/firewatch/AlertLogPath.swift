import AlertLog
import Foundation
import SiteConfig
import Yams

/// Where the alert log is: `--log`, else `alert_log:` in the site file, else the standard state directory.
enum AlertLogPath {
    /// The path `StateDirectory=firewatch` gives the daemon.
    static let defaultPath = "/var/lib/firewatch/alerts.jsonl"

    /// A resolved path and where it came from, for messages.
    struct Resolved: Sendable, Hashable {
        var path: String
        var origin: String
    }

    /// Resolves the log path. Only the `alert_log:` key of the site file is read, so a site file that is
    /// otherwise mid-edit still tells operators where the log is.
    static func resolve(log: String?, config: String?) throws(AlertReadError) -> Resolved {
        if let log { return Resolved(path: log, origin: "--log") }
        guard let config else { return Resolved(path: defaultPath, origin: "the default") }
        let text: String
        do {
            text = try readText(config)
        } catch {
            throw AlertReadError(
                .badConfig, "\(config): cannot read the site file: \(error)",
                hint: "pass the site file with --config FILE, or the log itself with --log FILE")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw AlertReadError(
                .badConfig, "\(config): not valid YAML: \(error)", hint: "run `firewatch check --config \(config)`")
        }
        guard let node = root?.mapping?["alert_log"] else {
            return Resolved(path: defaultPath, origin: "the default (\(config) has no alert_log:)")
        }
        let line = node.mark.map { ":\($0.line)" } ?? ""
        guard let value = node.scalar?.string, !value.isEmpty else {
            throw AlertReadError(
                .badConfig, "\(config)\(line): field `alert_log` must be a file path",
                hint: "write e.g. `alert_log: /var/lib/firewatch/alerts.jsonl`")
        }
        let folder = (config as NSString).deletingLastPathComponent
        return Resolved(
            path: SiteLoader.absolute(value, relativeTo: folder.isEmpty ? "." : folder),
            origin: "alert_log: in \(config)\(line)")
    }

    private static func readText(_ path: String) throws -> String {
        try String(contentsOfFile: path, encoding: .utf8)
    }
}

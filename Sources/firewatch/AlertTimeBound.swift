import SiteConfig
import AlertLog
import Gateway

/// `--since`/`--until` of `firewatch alerts`: a duration back from now in the site file's spelling (`500ms`,
/// `90s`, `10m`, `2h`, `7d`, one unit) or an RFC 3339 time. Here, not in AlertLog, so the log does not depend on
/// the site file's duration parser: the CLI is where the two meet.
enum AlertTimeBound {
    /// Milliseconds since the epoch, or nil when `text` is neither a duration nor an RFC 3339 time.
    static func parse(_ text: String, now: Int64) -> Int64? {
        if let duration = DurationText.parse(text, compound: false), duration >= .zero {
            let (seconds, attoseconds) = duration.components
            return now - (seconds * 1000 + attoseconds / 1_000_000_000_000_000)
        }
        return AlertTime.parse(text)
    }
}

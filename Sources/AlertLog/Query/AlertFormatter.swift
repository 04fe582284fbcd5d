import FireSafety

/// The human view of a record: one line, `journalctl`-like.
///
///     2026-11-24 04:12:09.125  ALARM    battery-room-a  off-gas detected in battery-room-a
///
/// Local time (honours `TZ`), severity (coloured when `colour` is on), zone (`-` for site-wide records),
/// then the message (the event name when a record has none).
public struct AlertFormatter: Sendable {
    /// ANSI colours on, for a terminal; off when piped or `NO_COLOR` is set.
    public var colour: Bool

    public init(colour: Bool) { self.colour = colour }

    /// Whether colour suits this output: a terminal, and `NO_COLOR` unset or empty (https://no-color.org).
    public static func wantsColour(isTerminal: Bool, environment: [String: String]) -> Bool {
        guard isTerminal else { return false }
        if let value = environment["NO_COLOR"], !value.isEmpty { return false }
        return environment["TERM"] != "dumb"
    }

    /// The line for `record`, without a trailing newline.
    public func format(_ record: AlertLine) -> String {
        let time = record.time.map(AlertTime.formatLocal) ?? "????-??-?? ??:??:??.???"
        let name = (record.severity?.name ?? record.severityName ?? "?").uppercased()
        let padded = name.count >= 7 ? name : name + String(repeating: " ", count: 7 - name.count)
        let severity = colour ? Self.paint(padded, record.severity) : padded
        let zone = record.zone.map(Self.printable) ?? "-"
        let text = Self.printable(record.message ?? record.event ?? "")
        return "\(time)  \(severity)  \(zone)  \(text)"
    }

    private static func paint(_ text: String, _ severity: Severity?) -> String {
        let code: String
        switch severity {
        case .info: code = "2"  // dim: routine
        case .trouble: code = "33"  // yellow
        case .alert: code = "1;33"  // bold yellow
        case .alarm: code = "1;31"  // bold red
        case .fire: code = "1;97;41"  // bold white on red
        case nil: code = "35"  // magenta: not a known severity
        }
        return "\u{1B}[\(code)m\(text)\u{1B}[0m"
    }

    /// Control characters from a damaged or hostile log must not drive the operator's terminal.
    static func printable(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) else { return text }
        var out = ""
        for scalar in text.unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += scalar == "\n" ? "\\n" : scalar == "\t" ? "\\t" : "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

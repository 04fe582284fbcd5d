/// Durations as people write them: `500ms`, `30s`, `2m` (or `2min`), `1h`, `1d`, a bare `0`, and — where a
/// caller allows it — sums such as `1m30s`. The one parser and printer for site files, scenarios, operator
/// commands and messages, so `30s` means the same everywhere.
public enum DurationText {
    /// Units in the order they may appear, with their length in seconds.
    static let units: [(name: String, seconds: Double)] = [
        ("ms", 0.001), ("s", 1), ("min", 60), ("m", 60), ("h", 3600), ("d", 86_400),
    ]

    /// Parses `text`; nil when it is not a duration. `compound: false` accepts one number and one unit
    /// only; `units` limits the unit names accepted (all of them by default).
    public static func parse(_ text: String, compound: Bool = true, units allowed: Set<String>? = nil) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "0" { return .zero }
        var total: Duration = .zero
        var rest = Substring(trimmed)
        var terms = 0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
            // "1.s" and ".5s" are typos more often than intent: a number has digits on both sides of its point.
            guard !digits.isEmpty, digits.first != ".", digits.last != ".", let number = Double(digits),
                number.isFinite
            else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = String(rest.prefix { $0.isLetter })
            rest = rest.dropFirst(unit.count)
            guard let seconds = units.first(where: { $0.name == unit })?.seconds,
                allowed.map({ $0.contains(unit) }) ?? true
            else { return nil }
            let value = number * seconds
            guard value < 1e9 else { return nil }
            total += .milliseconds(Int64((value * 1000).rounded()))
            terms += 1
            if !compound, terms > 1 { return nil }
        }
        return total
    }

    /// The shortest spelling: the largest whole unit (`2h`, `90s`), milliseconds below a second (`250ms`),
    /// decimal seconds otherwise (`1.5s`).
    public static func format(_ duration: Duration) -> String {
        let ms = duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000
        if ms == 0 { return "0s" }
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)]
        where ms % size == 0 {
            return "\(ms / size)\(unit)"
        }
        if abs(ms) < 1000 { return "\(ms)ms" }
        return "\(Double(ms) / 1000)s"
    }
}

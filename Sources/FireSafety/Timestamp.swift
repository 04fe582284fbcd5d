/// A point in time: nanoseconds since the Unix epoch (UTC).
///
/// The engine never reads a clock. The shell converts wall time into `Timestamp`s and passes them in;
/// the engine only compares and adds durations, which is what makes every timer testable.
public struct Timestamp: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var nanoseconds: Int64

    public init(nanoseconds: Int64) {
        self.nanoseconds = nanoseconds
    }

    /// The epoch plus whole seconds; handy in tests and scenarios.
    public init(seconds: Int64) {
        self.nanoseconds = seconds * 1_000_000_000
    }

    public static func < (lhs: Timestamp, rhs: Timestamp) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    public static func + (lhs: Timestamp, rhs: Duration) -> Timestamp {
        Timestamp(nanoseconds: lhs.nanoseconds &+ rhs.nanosecondCount)
    }

    public static func - (lhs: Timestamp, rhs: Duration) -> Timestamp {
        Timestamp(nanoseconds: lhs.nanoseconds &- rhs.nanosecondCount)
    }

    /// How long from `rhs` to `lhs` (negative when `lhs` is earlier).
    public static func - (lhs: Timestamp, rhs: Timestamp) -> Duration {
        .nanoseconds(lhs.nanoseconds &- rhs.nanoseconds)
    }

    /// ISO 8601 in UTC with milliseconds, as the alert log writes it: `2026-11-24T03:12:09.125Z`.
    public var description: String {
        let (seconds, nanos) = nanoseconds.quotientAndRemainder(dividingBy: 1_000_000_000)
        var wholeSeconds = seconds
        var fraction = nanos
        if fraction < 0 {
            wholeSeconds -= 1
            fraction += 1_000_000_000
        }
        let (days, secondOfDay) = floorDivide(wholeSeconds, 86_400)
        let (year, month, day) = civilDate(daysSinceEpoch: days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(secondOfDay / 3600, 2) + ":"
            + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2) + "." + pad(fraction / 1_000_000, 3) + "Z"
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating far outside any configured value).
    var nanosecondCount: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return product &+ attoseconds / 1_000_000_000
    }

    /// Seconds as a `Double`, for slopes and messages.
    var secondsValue: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

/// A duration the way an operator reads it: `30 s`, `5 min`, `2 h`, `1.5 s`.
func spoken(_ duration: Duration) -> String {
    let nanos = duration.nanosecondCount
    if nanos % 3_600_000_000_000 == 0, nanos != 0 { return "\(nanos / 3_600_000_000_000) h" }
    if nanos % 60_000_000_000 == 0, nanos != 0 { return "\(nanos / 60_000_000_000) min" }
    if nanos % 1_000_000_000 == 0 { return "\(nanos / 1_000_000_000) s" }
    return "\(Value.number(Double(nanos / 1_000_000) / 1000).description) s"
}

private func floorDivide(_ value: Int64, _ divisor: Int64) -> (Int64, Int64) {
    var (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
    if remainder < 0 {
        quotient -= 1
        remainder += divisor
    }
    return (quotient, remainder)
}

/// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian), so no Foundation calendar is needed.
private func civilDate(daysSinceEpoch: Int64) -> (Int64, Int64, Int64) {
    let shifted = daysSinceEpoch + 719_468
    let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
    let dayOfEra = shifted - era * 146_097
    let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
    let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
    let monthIndex = (5 * dayOfYear + 2) / 153
    let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
    let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
    return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
}

private func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

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
        let (year, month, day) = CivilDate.date(daysSinceEpoch: days)
        return pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2) + "T" + pad(secondOfDay / 3600, 2) + ":"
            + pad(secondOfDay / 60 % 60, 2) + ":" + pad(secondOfDay % 60, 2) + "." + pad(fraction / 1_000_000, 3) + "Z"
    }
}

extension Timestamp {
    /// Parses the alert log's `time` (`2026-11-24T03:12:09.125Z`; fraction optional, up to nanoseconds; UTC
    /// only), so the log reader can rebuild records for `Engine.restore` without a calendar. Nil otherwise.
    public init?(iso8601 text: String) {
        let bytes = Array(text.utf8)
        func number(_ range: Range<Int>) -> Int64? {
            guard range.upperBound <= bytes.count else { return nil }
            var value: Int64 = 0
            for byte in bytes[range] {
                guard (48...57).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - 48)
            }
            return value
        }
        guard bytes.count >= 20, bytes[4] == 45, bytes[7] == 45, bytes[10] == 84, bytes[13] == 58, bytes[16] == 58,
            bytes.last == 90,
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var nanos: Int64 = 0
        let fractionEnd = bytes.count - 1
        if fractionEnd > 19 {
            guard bytes[19] == 46, fractionEnd - 20 >= 1, fractionEnd - 20 <= 9,
                let fraction = number(20..<fractionEnd)
            else { return nil }
            nanos = fraction
            for _ in 0..<(9 - (fractionEnd - 20)) { nanos *= 10 }
        } else if fractionEnd != 19 {
            return nil
        }
        let days = CivilDate.daysSinceEpoch(year: year, month: month, day: day)
        self.init(nanoseconds: ((days * 86_400 + hour * 3600 + minute * 60 + second) * 1_000_000_000) + nanos)
    }
}

extension Level {
    /// The level named as in the configuration and the alert log: `alert`, `alarm`, `fire`.
    public init?(name: String) {
        guard let match = Level.allCases.first(where: { $0.description == name }) else { return nil }
        self = match
    }
}

extension Duration {
    /// The duration in whole nanoseconds (saturating far outside any configured value).
    public var nanosecondCount: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        return product &+ attoseconds / 1_000_000_000
    }

    /// Seconds as a `Double`, for slopes and messages.
    public var secondsValue: Double {
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

/// Calendar arithmetic without Foundation: Howard Hinnant's algorithms, exact for the proleptic Gregorian
/// calendar. The one copy, for `Timestamp` and the alert log's reader.
public enum CivilDate {
    /// The date of a day counted from 1970-01-01 (negative before it).
    public static func date(daysSinceEpoch: Int64) -> (year: Int64, month: Int64, day: Int64) {
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

    /// Days from 1970-01-01 to a date, the inverse of `date(daysSinceEpoch:)`.
    public static func daysSinceEpoch(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }
}

private func pad(_ value: Int64, _ width: Int) -> String {
    let digits = String(value)
    return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
}

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
    /// The strict form of ``init(rfc3339Bytes:)``: what the writer writes, not every RFC 3339 spelling.
    public init?(iso8601 text: String) {
        let bytes = Array(text.utf8)
        // The log's own form only: `T`, `Z`, and at most nine fraction digits (none are silently dropped).
        guard bytes.count >= 20, bytes.count <= 30, bytes[10] == 84, bytes.last == 90 else { return nil }
        guard let parsed = bytes.withUnsafeBytes({ Timestamp(rfc3339Bytes: $0) }) else { return nil }
        self = parsed
    }

    /// Parses RFC 3339 from raw bytes: `2026-11-24T03:12:09.125Z`, `2026-11-24T05:12:09+02:00`, `t`/space for
    /// `T`, `z` for `Z`, any fraction length (kept to the nanosecond, finer digits ignored). Nil for anything
    /// else, so a damaged `time` is reported rather than guessed. Byte-level and calendar-free: the alert reader
    /// runs it on millions of lines, where a `DateFormatter` per line would dominate the run.
    public init?(rfc3339Bytes b: UnsafeRawBufferPointer) {
        // Fixed layout up to the seconds: YYYY-MM-DDTHH:MM:SS
        guard b.count >= 20 else { return nil }
        func digits(_ at: Int, _ n: Int) -> Int64? {
            var v: Int64 = 0
            for i in at..<(at + n) {
                let c = b[i]
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int64(c - 0x30)
            }
            return v
        }
        guard b[4] == 0x2D, b[7] == 0x2D, b[10] == 0x54 || b[10] == 0x74 || b[10] == 0x20,
            b[13] == 0x3A, b[16] == 0x3A,
            let year = digits(0, 4), let month = digits(5, 2), let day = digits(8, 2),
            let hour = digits(11, 2), let minute = digits(14, 2), let second = digits(17, 2),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second <= 60
        else { return nil }
        var i = 19
        var nanos: Int64 = 0
        if b[i] == 0x2E {  // fraction: keep nanoseconds, ignore finer digits
            i += 1
            var scale: Int64 = 100_000_000
            let start = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                nanos += Int64(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        guard i < b.count else { return nil }
        var offsetSeconds: Int64 = 0
        switch b[i] {
        case 0x5A, 0x7A:  // Z
            i += 1
        case 0x2B, 0x2D:  // +hh:mm / -hh:mm
            guard i + 6 <= b.count, b[i + 3] == 0x3A, let oh = digits(i + 1, 2), let om = digits(i + 4, 2) else {
                return nil
            }
            offsetSeconds = (oh * 3600 + om * 60) * (b[i] == 0x2B ? 1 : -1)
            i += 6
        default:
            return nil
        }
        guard i == b.count else { return nil }
        let days = CivilDate.daysSinceEpoch(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        // Nanoseconds in an Int64 end in 2262: a later year (a damaged digit) is unusable, not a crash.
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow, scaled <= Int64.max - nanos else { return nil }
        self.init(nanoseconds: scaled + nanos)
    }

    /// Parses RFC 3339 text (see ``init(rfc3339Bytes:)``).
    public init?(rfc3339 text: String) {
        var copy = text
        guard let parsed = copy.withUTF8({ Timestamp(rfc3339Bytes: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = parsed
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

/// An elapsed time in whole seconds as people say it: "45 s", "5 min 12 s", "2 h 3 min".
func spokenElapsed(_ duration: Duration) -> String {
    let seconds = max(0, duration.nanosecondCount / 1_000_000_000)
    let (hours, minutes, rest) = (seconds / 3600, seconds % 3600 / 60, seconds % 60)
    if hours > 0 { return minutes == 0 ? "\(hours) h" : "\(hours) h \(minutes) min" }
    if minutes > 0 { return rest == 0 ? "\(minutes) min" : "\(minutes) min \(rest) s" }
    return "\(rest) s"
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

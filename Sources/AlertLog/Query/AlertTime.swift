import FireSafety

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Times of the alert log as milliseconds since the Unix epoch, parsed and printed without Foundation
/// formatters: a 1 GB log has millions of lines and a `DateFormatter` per line would dominate the run.
public enum AlertTime {
    /// Parses RFC 3339 (`2026-11-24T03:12:09.125Z`, `2026-11-24T05:12:09+02:00`, any fraction length).
    /// Returns nil for anything else, so a damaged `time` is reported rather than guessed.
    public static func parse(_ text: String) -> Int64? {
        var copy = text
        return copy.withUTF8 { parse(bytes: UnsafeRawBufferPointer($0)) }
    }

    /// Parses RFC 3339 from raw bytes (see ``parse(_:)``).
    public static func parse(bytes b: UnsafeRawBufferPointer) -> Int64? {
        // Fixed layout up to the seconds: YYYY-MM-DDTHH:MM:SS
        guard b.count >= 20 else { return nil }
        func digits(_ at: Int, _ n: Int) -> Int? {
            var v = 0
            for i in at..<(at + n) {
                let c = b[i]
                guard c >= 0x30, c <= 0x39 else { return nil }
                v = v * 10 + Int(c - 0x30)
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
        var millis = 0
        if b[i] == 0x2E {  // fraction: keep milliseconds, ignore finer digits
            i += 1
            var scale = 100
            let start = i
            while i < b.count, b[i] >= 0x30, b[i] <= 0x39 {
                millis += Int(b[i] - 0x30) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { return nil }
        }
        guard i < b.count else { return nil }
        var offsetSeconds = 0
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
        let days = CivilDate.daysSinceEpoch(year: Int64(year), month: Int64(month), day: Int64(day))
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return seconds * 1000 + Int64(millis)
    }

    /// `2026-11-24T03:12:09.125Z`: the form the log uses (`Timestamp`'s own).
    public static func formatUTC(_ millis: Int64) -> String {
        Timestamp(nanoseconds: millis * 1_000_000).description
    }

    /// `2026-11-24 04:12:09.125` in the machine's local time zone (honours `TZ`), as `journalctl` shows.
    public static func formatLocal(_ millis: Int64) -> String {
        let (secs, ms) = floorDivide(millis, 1000)
        var t = time_t(secs)
        var parts = tm()
        guard localtime_r(&t, &parts) != nil else { return formatUTC(millis) }
        let date = "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))"
        let clock = "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2))"
        return "\(date) \(clock).\(pad(Int(ms), 3))"
    }

    /// Parses a duration such as `500ms`, `90s`, `10m`, `2h`, `7d` into milliseconds.
    public static func parseDuration(_ text: String) -> Int64? {
        let units: [(String, Int64)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        for (suffix, factor) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            if let value = Int64(number), value >= 0 { return value * factor }
            if let value = Double(number), value >= 0, value.isFinite { return Int64(value * Double(factor)) }
        }
        return nil
    }

    /// `--since`/`--until` values: a duration back from `now` (`10m`) or an RFC 3339 time.
    public static func parseBound(_ text: String, now: Int64) -> Int64? {
        if let duration = parseDuration(text) { return now - duration }
        if let absolute = parse(text) { return absolute }
        return nil
    }

    private static func pad(_ value: Int, _ width: Int) -> String {
        let s = String(value)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a / b
        let r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }
}

import FireSafety

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Times of the alert log as milliseconds since the Unix epoch, for the reading tools (which compare and seek on
/// millions of lines): parsed with `Timestamp`'s RFC 3339 parser and printed with its formatter, plus the local
/// display `journalctl` users expect.
public enum AlertTime {
    /// Parses RFC 3339 (`2026-11-24T03:12:09.125Z`, `2026-11-24T05:12:09+02:00`, any fraction length) into
    /// milliseconds (rounded down). Nil for anything else, so a damaged `time` is reported rather than guessed.
    public static func parse(_ text: String) -> Int64? {
        Timestamp(rfc3339: text).map(millis)
    }

    /// Parses RFC 3339 from raw bytes (see ``parse(_:)``).
    public static func parse(bytes: UnsafeRawBufferPointer) -> Int64? {
        Timestamp(rfc3339Bytes: bytes).map(millis)
    }

    private static func millis(_ time: Timestamp) -> Int64 { floorDivide(time.nanoseconds, 1_000_000).0 }

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

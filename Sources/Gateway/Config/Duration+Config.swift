extension Duration {
    /// Parses the configuration's durations: a number and one unit, `500ms`, `1s`, `2m`, `1h`, `1.5s`.
    /// Returns nil for anything else (no unit, unknown unit, negative, compound like `1m30s`).
    public init?(configText text: String) {
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        for (suffix, seconds) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            // "ms" also ends in "s": only accept a suffix when what is left is a plain number.
            guard !number.isEmpty, number.allSatisfy({ $0.isNumber || $0 == "." }),
                number.first != ".", number.last != ".",
                let value = Double(number), value.isFinite
            else { continue }
            let milliseconds = (value * seconds * 1000).rounded()
            guard milliseconds <= Double(Int64.max / 2) else { return nil }
            self = .milliseconds(Int64(milliseconds))
            return
        }
        return nil
    }

    /// Seconds as a `Double`, for printing.
    var configSeconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }

    /// The shortest configuration spelling: `500ms`, `1s`, `2m`, `1h`, `1.5s`.
    public var configText: String {
        let ms = (configSeconds * 1000).rounded()
        if ms.truncatingRemainder(dividingBy: 3_600_000) == 0, ms > 0 { return "\(Int64(ms / 3_600_000))h" }
        if ms.truncatingRemainder(dividingBy: 60_000) == 0, ms > 0 { return "\(Int64(ms / 60_000))m" }
        if ms.truncatingRemainder(dividingBy: 1000) == 0 { return "\(Int64(ms / 1000))s" }
        if ms < 1000 { return "\(Int64(ms))ms" }
        return "\(ms / 1000)s"
    }
}

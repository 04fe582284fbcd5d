import Foundation

/// Durations as people write them in scenarios and site files: `500ms`, `90s`, `2m`, `1.5min`, `1h`,
/// or sums such as `1m30s`. A bare `0` is zero.
public enum DurationText {
    /// Parses the text; nil when it is not a duration.
    public static func parse(_ text: String) -> Duration? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "0" { return .zero }
        var total = 0.0
        var rest = Substring(trimmed)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let numberText = rest.prefix { $0.isNumber || $0 == "." }
            guard !numberText.isEmpty, let number = Double(numberText) else { return nil }
            rest = rest.dropFirst(numberText.count)
            let unitText = rest.prefix { $0.isLetter }
            rest = rest.dropFirst(unitText.count)
            let seconds: Double
            switch unitText {
            case "ms": seconds = 0.001
            case "s": seconds = 1
            case "m", "min": seconds = 60
            case "h": seconds = 3600
            default: return nil
            }
            total += number * seconds
        }
        return .milliseconds(Int64((total * 1000).rounded()))
    }

    /// Formats a duration the short way (`90s`, `1.5s`, `250ms`), as scenario files write it.
    public static func format(_ duration: Duration) -> String {
        let ms = duration.milliseconds
        if ms % 1000 == 0 { return "\(ms / 1000)s" }
        if ms < 1000 { return "\(ms)ms" }
        return "\(Double(ms) / 1000)s"
    }
}

extension Duration {
    /// Whole milliseconds, rounded toward zero; the simulator's time grid is coarser than this.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }

    /// Seconds as a `Double`, for the physics.
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}

extension Duration {
    /// Parses the configuration's durations: a number and one unit, `500ms`, `1s`, `2m`, `1h`, `1.5s`.
    /// Returns nil for anything else (no unit, unknown unit, negative, compound like `1m30s`).
    public init?(configText text: String) {
        // The site file keeps to the contract's spelling: one number, one of ms, s, m, h.
        guard text != "0", let value = DurationText.parse(text, compound: false, units: ["ms", "s", "m", "h"]) else {
            return nil
        }
        self = value
    }

    /// The shortest configuration spelling: `500ms`, `1s`, `2m`, `1h`, `1.5s`.
    public var configText: String { DurationText.format(self) }
}

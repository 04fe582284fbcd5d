// Durations in scenarios are parsed and printed by SiteConfig's `DurationText`, the same as in site files; seconds as a
// `Double` (for the physics) are FireSafety's `secondsValue`.

extension Duration {
    /// Whole milliseconds, rounded toward zero; the simulator's time grid is coarser than this.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + attoseconds / 1_000_000_000_000_000
    }
}

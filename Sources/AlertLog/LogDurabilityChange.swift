/// The alert log went from durable to not (records held in memory), or back; `AlertLogWriter` reports each change
/// once, so the daemon can tell people on every channel.
public enum LogDurabilityChange: Sendable, Equatable {
    /// The disk stopped taking records: why, and what to do.
    case notDurable(problem: String, hint: String)
    /// The disk takes records again; `written` were held in memory and are now written.
    case durable(written: Int)
}

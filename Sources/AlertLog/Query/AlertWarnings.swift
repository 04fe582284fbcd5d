import Synchronization

/// Warnings about damaged lines, written as `file:line: text` to a sink (stderr in the CLI). Per-line
/// warnings stop after a cap so a wrecked file does not bury the output; names are reported once.
public final class AlertWarnings: Sendable {
    private struct State {
        var seen: Set<AlertLineProblem.Kind> = []
        var reported = 0
        var suppressed = 0
    }

    private let state = Mutex(State())
    private let cap: Int
    private let sink: @Sendable (String) -> Void

    /// `sink` receives each finished message without a trailing newline.
    public init(cap: Int = 20, sink: @escaping @Sendable (String) -> Void) {
        self.cap = cap
        self.sink = sink
    }

    /// Reports `problem`; `location` (which may count lines) is only evaluated if the warning is printed.
    public func report(_ problem: AlertLineProblem, at location: () -> String) {
        let show = state.withLock { state -> Bool in
            if problem.onceOnly {
                return state.seen.insert(problem.kind).inserted
            }
            guard state.reported < cap else {
                state.suppressed += 1
                return false
            }
            state.reported += 1
            return true
        }
        if show { sink("warning: \(location()): \(problem.text)") }
    }

    /// A notice that is always shown (rotation, truncation, anchors).
    public func note(_ text: String) { sink(text) }

    /// Says how many warnings were held back, if any.
    public func finish() {
        let suppressed = state.withLock { state in
            defer { state.suppressed = 0 }
            return state.suppressed
        }
        if suppressed > 0 { sink("warning: \(suppressed) more damaged line(s) not shown") }
    }

    /// How many per-line warnings were shown or held back so far.
    public var count: Int { state.withLock { $0.reported + $0.suppressed } }
}

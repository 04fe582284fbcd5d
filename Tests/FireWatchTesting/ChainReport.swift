import AlertLog
import Synchronization

/// The alert log's chain at `path` as `firewatch alerts verify` judges it (the one verifier), with the warnings it
/// printed (a torn last line is skipped with one). A log that cannot be opened is a broken report, not a throw,
/// so tests can compare reports directly.
public func chainReport(logAt path: String) -> (report: AlertChainVerifier.Report, warnings: [String]) {
    let notes = NoteSink()
    let warnings = AlertWarnings(cap: 1000) { notes.append($0) }
    do {
        let report = try AlertChainVerifier.verify(AlertLogSet.discover(livePath: path), warnings: warnings)
        return (report, notes.lines)
    } catch {
        return (.broken(at: .init(path: path, line: 0), reason: "\(error)", recordsBefore: 0), notes.lines)
    }
}

/// How many records the chain at `path` holds when it is intact (nil, with the report, when it is not): what
/// `#expect(intactRecords(logAt: path) == 50)` checks.
public func intactRecords(logAt path: String) -> Int? {
    if case .intact(let records, _, _) = chainReport(logAt: path).report { return records }
    return nil
}

private final class NoteSink: Sendable {
    private let store = Mutex<[String]>([])
    func append(_ line: String) { store.withLock { $0.append(line) } }
    var lines: [String] { store.withLock { $0 } }
}

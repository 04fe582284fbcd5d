import FireSafety

/// What a start reads back from the alert log: the newest `state.checkpoint` and the records after it, folded.
///
/// Only the newest file that holds a checkpoint and the files after it are read, so rotation (which drops the
/// oldest file) never forgets a latch, and a start costs one file, not the whole history. The hash chain is
/// checked from the checkpoint on; at a break restore stops at the last good record and says which line broke.
public struct LogRecovery: Sendable {
    var state: EngineCheckpoint
    /// Records folded after the checkpoint (all records when the log has none, as logs of older versions).
    public internal(set) var recordsRead: Int
    /// `file:line` of the checkpoint restore started from, nil when it started from the first record.
    public internal(set) var checkpoint: String?
    /// Why part of the log could not be used (a broken chain), in an operator's words.
    public internal(set) var problems: [String]

    public static func read(logAt path: String) throws -> LogRecovery {
        let files = AlertLog.files(forLogAt: path)
        var tail: [AlertLogLine] = []
        var start: EngineCheckpoint?
        for file in files.reversed() {
            let lines = try AlertLog.readLines(ofFile: file)
            if let at = lines.lastIndex(where: { $0.event == AlertEvent.stateCheckpoint.rawValue && state(of: $0) != nil })
            {
                start = state(of: lines[at])
                tail = Array(lines[at...]) + tail
                break
            }
            tail = lines + tail
        }
        var recovery = LogRecovery(
            state: start ?? EngineCheckpoint(), recordsRead: 0,
            checkpoint: start == nil ? nil : tail.first.map { "\($0.file):\($0.lineNumber)" }, problems: [])
        var previous: AlertLogLine?
        for (position, line) in tail.enumerated() {
            // A torn last line is the writer's to cut off (it logs `log.truncated`); it is not a break.
            if !line.isComplete && position == tail.count - 1 { break }
            if let problem = chainProblem(line, after: previous) {
                recovery.problems.append(
                    "the alert log's chain breaks at \(line.file):\(line.lineNumber) (\(problem)); state was restored "
                        + "from the records before it" + (previous.map { " (up to seq \($0.seq ?? 0))" } ?? ""))
                break
            }
            previous = line
            if start != nil && position == 0 { continue }
            if let fields = line.fields, let record = AlertRecord(jsonFields: fields) {
                recovery.state.fold(record)
                recovery.recordsRead += 1
            }
        }
        return recovery
    }

    private static func state(of line: AlertLogLine) -> EngineCheckpoint? {
        line.fields?["state"].flatMap(EngineCheckpoint.init(json:))
    }

    /// Why `line` does not continue the chain after `previous`, or nil.
    private static func chainProblem(_ line: AlertLogLine, after previous: AlertLogLine?) -> String? {
        guard line.isComplete else { return "an incomplete line" }
        guard line.fields != nil else { return "not a JSON object" }
        guard let seq = line.seq, let prev = line.prev else { return "no seq or prev" }
        guard let previous, let previousSeq = previous.seq else { return nil }
        if seq != previousSeq + 1 { return "seq \(seq) where \(previousSeq + 1) was expected" }
        if prev != previous.hash { return "prev does not match the previous line's sha256" }
        return nil
    }
}

import FireSafety

/// What a start reads back from the alert log: the newest `state.checkpoint` and the records after it, folded.
///
/// Only the newest file that holds a checkpoint and the files after it are read, so rotation (which drops the
/// oldest file) never forgets a latch, and a start costs one file, not the whole history. The hash chain is
/// checked from the checkpoint on; at a break restore stops at the last good record and says which line broke.
public struct LogRecovery: Sendable {
    /// The engine state to restore: the checkpoint's, with the records after it folded in.
    public internal(set) var state: EngineCheckpoint
    /// Records folded after the checkpoint (all records when the log has none, as logs of older versions).
    public internal(set) var recordsRead: Int
    /// `file:line` of the checkpoint restore started from, nil when it started from the first record.
    public internal(set) var checkpoint: String?
    /// Why part of the log could not be used (a broken chain), in an operator's words.
    public internal(set) var problems: [String]

    /// A recovery from nothing (no log, or one that could not be read): the daemon starts from a fresh engine.
    public init(
        state: EngineCheckpoint = EngineCheckpoint(), recordsRead: Int = 0, checkpoint: String? = nil,
        problems: [String] = []
    ) {
        self.state = state
        self.recordsRead = recordsRead
        self.checkpoint = checkpoint
        self.problems = problems
    }

    /// Reads the log at `path` (the files `AlertLogSet.discover` lists, the same as `firewatch alerts verify`).
    public static func read(logAt path: String) throws -> LogRecovery {
        let set = AlertLogSet.discover(livePath: path)
        let files = set.existingPathsOldestFirst
        var tail: [[AlertLine]] = []
        var start: EngineCheckpoint?
        for file in files.reversed() {
            let lines = try AlertLine.lines(ofFile: file)
            if let at = lines.lastIndex(where: { $0.event == AlertEvent.stateCheckpoint.rawValue && state(of: $0) != nil })
            {
                start = state(of: lines[at])
                tail.insert(Array(lines[at...]), at: 0)
                break
            }
            tail.insert(lines, at: 0)
        }
        let first = tail.lazy.compactMap(\.first).first
        var recovery = LogRecovery(
            state: start ?? EngineCheckpoint(), checkpoint: start == nil ? nil : first.map(\.location))
        // The verifier's own judgement, fed line by line; the checkpoint line is its anchor, so its `prev` (the
        // line before it, not read) is not checked.
        var check = AlertChainVerifier.ChainCheck()
        var failure: AlertChainVerifier.ChainCheck.Failure?
        var checkpointSkipped = start == nil
        func fold(_ confirmed: [AlertLine]) {
            for line in confirmed {
                // The checkpoint's state is the start; the line itself is not a record to fold.
                if !checkpointSkipped {
                    checkpointSkipped = true
                    continue
                }
                if let fields = line.fields, let record = AlertRecord(jsonFields: fields) {
                    recovery.state.fold(record)
                    recovery.recordsRead += 1
                }
            }
        }
        reading: for (index, lines) in tail.enumerated() {
            if index > 0, let path = lines.first?.file ?? nil {
                let missing = set.missingPaths(before: path)
                if !missing.isEmpty, let gap = check.gap(missing, before: path) {
                    failure = gap
                    break
                }
            }
            for (position, line) in lines.enumerated() {
                // A torn last line of the live file is the writer's to cut off (it logs `log.truncated`); not a break.
                if !line.isTerminated && index == tail.count - 1 && position == lines.count - 1 { break reading }
                if !line.isTerminated {
                    failure = AlertChainVerifier.ChainCheck.Failure(
                        location: AlertChainVerifier.Location(path: line.file ?? path, line: line.lineNumber),
                        reason: "an incomplete line", recordsBefore: check.checked)
                    break reading
                }
                let step = check.add(line)
                fold(step.confirmed)
                if let broken = step.failure {
                    failure = broken
                    break reading
                }
            }
        }
        if failure == nil {
            let step = check.finish()
            fold(step.confirmed)
            failure = step.failure
        }
        if let failure {
            recovery.problems.append(
                "the alert log's chain breaks at \(failure.location) (\(failure.reason)); state was restored "
                    + "from the records before it" + (check.lastGood.map { " (up to seq \($0.seq ?? 0))" } ?? ""))
        }
        return recovery
    }

    private static func state(of line: AlertLine) -> EngineCheckpoint? {
        line.fields?["state"].flatMap(EngineCheckpoint.init(json:))
    }
}

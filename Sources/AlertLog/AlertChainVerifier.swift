/// Checks the hash chain and sequence numbers of an alert log across its rotated files
/// (`firewatch alerts verify`, and recovery on start through ``ChainCheck``).
///
/// Each line's `prev` must be the SHA-256 (lowercase hex) of the previous line's bytes without its `\n`,
/// and `seq` must go up by one per line. The first line of the oldest kept file is the anchor: 64 zeros
/// if the log was never pruned, otherwise the hash of a line in a deleted file, which cannot be checked.
/// A rotated file missing between two kept ones is a deletion, and breaks the chain.
public enum AlertChainVerifier {
    /// A line's place: file and 1-based line number.
    public struct Location: Sendable, Hashable, CustomStringConvertible {
        public var path: String
        public var line: Int
        public var description: String { "\(path):\(line)" }

        public init(path: String, line: Int) {
            self.path = path
            self.line = line
        }
    }

    /// The outcome of a check.
    public enum Report: Sendable, Hashable {
        /// Every line chains. `anchor` says how the chain starts.
        case intact(records: Int, files: Int, anchor: String)
        /// The first broken, missing or reordered line, why, and how many records checked out before it.
        case broken(at: Location, reason: String, recordsBefore: Int)
    }

    /// Verifies `set`. Incomplete last lines (no `\n`) are skipped with a warning: the writer may be mid-write.
    public static func verify(_ set: AlertLogSet, warnings: AlertWarnings) throws(AlertReadError) -> Report {
        var files: [AlertLogFile] = []
        for path in set.pathsOldestFirst {
            do {
                files.append(try AlertLogFile(path: path))
            } catch {
                if path == set.livePath {
                    throw AlertReadError(
                        error.errno == 2 ? .logMissing : .io, "cannot open the alert log \(error)",
                        hint: "give the log with --log FILE, or the site file naming it with --config FILE")
                }
                throw AlertReadError(.io, "cannot open rotated file \(error)", hint: "check its permissions")
            }
        }
        var check = ChainCheck()
        for (index, file) in files.enumerated() {
            let missing = set.missingPaths(before: file.path)
            if index > 0, !missing.isEmpty, let failure = check.gap(missing, before: file.path) {
                return failure.report
            }
            var lineNumber = 0
            var failure: ChainCheck.Failure?
            let isLive = index == files.count - 1
            file.forEachLine(from: 0, to: file.size()) { bytes, offset, terminated in
                lineNumber += 1
                let location = Location(path: file.path, line: lineNumber)
                if !terminated {
                    let why = isLive ? "the writer may be mid-write" : "the file was rotated mid-line"
                    warnings.note("warning: \(location): last line has no newline (\(why)); not checked")
                    return false
                }
                failure = check.add(bytes, at: location)
                return failure == nil
            }
            if let failure { return failure.report }
        }
        if let failure = check.finish().failure { return failure.report }
        return .intact(records: check.checked, files: files.count, anchor: check.anchor)
    }

    /// The chain judged one line at a time, for `verify` (which streams a gigabyte) and for recovery (which
    /// folds each record once it is known good). Telling which of two lines was altered, or that two were
    /// swapped, needs the line after, so a line is confirmed (or blamed) when the next one arrives or at
    /// ``finish()``. The first line is the anchor: its `prev` is not checked (a deleted file's, or a
    /// checkpoint's predecessor that recovery does not read).
    public struct ChainCheck: Sendable {
        /// The first break: where, why, and how many records were confirmed before it.
        public struct Failure: Sendable, Hashable {
            public var location: Location
            public var reason: String
            public var recordsBefore: Int
            /// The same, as `verify` reports it.
            public var report: Report { .broken(at: location, reason: reason, recordsBefore: recordsBefore) }
        }

        /// What feeding one line (or finishing) gave: lines now confirmed, oldest first, and any break.
        public struct Step: Sendable {
            public var confirmed: [AlertLine] = []
            public var failure: Failure?
        }

        /// Lines confirmed so far.
        public private(set) var checked = 0
        /// How the chain starts, in an operator's words.
        public private(set) var anchor = "empty: no complete record yet"
        /// The last confirmed line, when lines were fed whole (``add(_:)``).
        public private(set) var lastGood: AlertLine?
        private var lastGoodEntry: Entry?
        /// Up to two lines not yet judged, each with its hash computed once (and the line, if fed whole).
        private var pending: [(entry: Entry, line: AlertLine?)] = []
        private var failed: Failure?

        public init() {}

        /// Feeds the next complete line, in the order the lines were written.
        public mutating func add(_ line: AlertLine) -> Step {
            guard failed == nil else { return Step(failure: failed) }
            let entry = Entry(
                location: Location(path: line.file ?? "-", line: line.lineNumber),
                hash: ChainHash(sha256Of: line.bytes), seq: line.seq, prev: line.prev.flatMap { ChainHash(hex: $0) },
                parsed: line.isObject)
            return add(entry, line)
        }

        /// Feeds the next complete line as bytes, for `verify`: only what the chain needs is read from it
        /// (``ChainFieldScan``, or `AlertLine.parse` for a line the scan leaves to it), and no line is kept.
        mutating func add(_ bytes: UnsafeRawBufferPointer, at location: Location) -> Failure? {
            guard failed == nil else { return failed }
            let hash = ChainHash(sha256Of: bytes)
            let entry: Entry
            if let fields = ChainFieldScan.scan(bytes) {
                entry = Entry(
                    location: location, hash: hash, seq: fields.seq,
                    prev: fields.prev.flatMap { ChainHash(hex: UnsafeRawBufferPointer(rebasing: bytes[$0])) },
                    parsed: true)
            } else {
                let line = AlertLine.parse(bytes).0
                entry = Entry(
                    location: location, hash: hash, seq: line?.seq, prev: line?.prev.flatMap { ChainHash(hex: $0) },
                    parsed: line?.isObject ?? false)
            }
            return add(entry, nil).failure
        }

        private mutating func add(_ entry: Entry, _ line: AlertLine?) -> Step {
            pending.append((entry, line))
            return judge(final: false)
        }

        /// Judges what is pending: call after the last line.
        public mutating func finish() -> Step {
            guard failed == nil else { return Step(failure: failed) }
            return judge(final: true)
        }

        /// Says that `missing` files (deleted rotated files) come before `path`: a deletion, so the chain breaks
        /// at the first line of `path` unless an earlier line already broke it.
        public mutating func gap(_ missing: [String], before path: String) -> Failure? {
            let step = finish()
            if let failure = step.failure { return failure }
            let names = missing.joined(separator: ", ")
            let failure = Failure(
                location: Location(path: path, line: 1),
                reason: "missing: \(names) \(missing.count == 1 ? "was" : "were") deleted (rotated files must be"
                    + " consecutive); the records in \(missing.count == 1 ? "it" : "them") cannot be checked",
                recordsBefore: checked)
            failed = failure
            return failure
        }

        private mutating func judge(final: Bool) -> Step {
            var step = Step()
            while pending.count >= (final ? 1 : 2) {
                let current = pending[0]
                let next = pending.count > 1 ? pending[1].entry : nil
                if let previous = lastGoodEntry {
                    if let (location, reason) = AlertChainVerifier.problem(
                        previous: previous, current: current.entry, next: next)
                    {
                        failed = Failure(location: location, reason: reason, recordsBefore: checked)
                        step.failure = failed
                        return step
                    }
                } else {
                    let first = current.entry
                    if let reason = AlertChainVerifier.anchorProblem(first) {
                        failed = Failure(location: first.location, reason: reason, recordsBefore: 0)
                        step.failure = failed
                        return step
                    }
                    anchor =
                        first.prev == .genesis
                        ? "anchored at the start of the log (\(first.location), prev all zeros)"
                        : "anchored at \(first.location): older files were deleted, so its prev cannot be checked"
                }
                checked += 1
                lastGoodEntry = current.entry
                if let line = current.line {
                    lastGood = line
                    step.confirmed.append(line)
                }
                pending.removeFirst()
            }
            return step
        }
    }

    /// What judging a line needs of it. `prev` is nil when it is missing or not 64 lowercase hex digits.
    private struct Entry {
        var location: Location
        var hash: ChainHash
        var seq: Int?
        var prev: ChainHash?
        var parsed: Bool
    }

    private static func anchorProblem(_ first: Entry) -> String? {
        guard first.parsed else { return "not a JSON object" }
        guard first.seq != nil else { return "`seq` is missing or not an integer" }
        guard first.prev != nil else { return "`prev` is missing or not 64 lowercase hex digits" }
        return nil
    }

    /// Why `current` does not follow `previous`, naming the line at fault; `next` helps tell which was altered.
    private static func problem(previous: Entry, current: Entry, next: Entry?) -> (Location, String)? {
        guard current.parsed else { return (current.location, "not a JSON object") }
        guard let seq = current.seq else { return (current.location, "`seq` is missing or not an integer") }
        guard let prev = current.prev else {
            return (current.location, "`prev` is missing or not 64 lowercase hex digits")
        }
        let expected = (previous.seq ?? 0) + 1
        let chained = prev == previous.hash
        if seq != expected {
            if let next, next.seq == expected {
                return (
                    current.location,
                    "reordered: seq \(seq) where \(expected) was expected, and the next line has seq \(expected)"
                        + " (this line and \(next.location) are swapped)"
                )
            }
            if chained {
                return (
                    current.location,
                    "seq \(seq) where \(expected) was expected, though prev chains to \(previous.location):"
                        + " this line was altered"
                )
            }
            if seq > expected {
                let missing = seq - expected
                return (
                    current.location,
                    "missing: seq jumps from \(expected - 1) to \(seq) (\(missing) record\(missing == 1 ? "" : "s")"
                        + " deleted before this line) and prev does not match \(previous.location)"
                )
            }
            return (
                current.location,
                "reordered: seq \(seq) goes back after \(expected - 1) (a line moved or replayed) and prev does not"
                    + " match \(previous.location)"
            )
        }
        if !chained {
            // If the next line still chains to this one, this line is as written: the previous one changed.
            if let next, next.prev == current.hash {
                return (
                    previous.location,
                    "altered: its SHA-256 is not the prev recorded by \(current.location) (the line was changed"
                        + " after it was written)"
                )
            }
            return (
                current.location,
                "broken: prev does not match the SHA-256 of \(previous.location)"
                    + (next == nil ? " (this line's prev or \(previous.location) was changed)" : "")
            )
        }
        return nil
    }
}

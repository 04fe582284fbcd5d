import Crypto

/// Checks the hash chain and sequence numbers of an alert log across its rotated files
/// (`firewatch alerts verify`).
///
/// Each line's `prev` must be the SHA-256 (lowercase hex) of the previous line's bytes without its `\n`,
/// and `seq` must go up by one per line. The first line of the oldest kept file is the anchor: 64 zeros
/// if the log was never pruned, otherwise the hash of a line in a deleted file, which cannot be checked.
public enum AlertChainVerifier {
    /// A line's place: file and 1-based line number.
    public struct Location: Sendable, Hashable, CustomStringConvertible {
        public var path: String
        public var line: Int
        public var description: String { "\(path):\(line)" }
    }

    /// The outcome of a check.
    public enum Report: Sendable, Hashable {
        /// Every line chains. `anchor` says how the chain starts.
        case intact(records: Int, files: Int, anchor: String)
        /// The first broken, missing or reordered line, why, and how many records checked out before it.
        case broken(at: Location, reason: String, recordsBefore: Int)
    }

    private struct Entry {
        var location: Location
        var hash: String
        var seq: Int?
        var prev: String?
        var parsed: Bool
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
        // The last verified line plus up to two unverified ones: telling which of two lines was altered,
        // or that two were swapped, needs the line after.
        var lastGood: Entry?
        var pending: [Entry] = []
        var checked = 0
        var anchor = ""
        var failure: Report?

        func judge(final: Bool) {
            while failure == nil, pending.count >= (final ? 1 : 2) {
                let current = pending[0]
                let next = pending.count > 1 ? pending[1] : nil
                if let previous = lastGood {
                    if let (location, reason) = problem(previous: previous, current: current, next: next) {
                        failure = .broken(at: location, reason: reason, recordsBefore: checked)
                        return
                    }
                } else {
                    if let reason = anchorProblem(current) {
                        failure = .broken(at: current.location, reason: reason, recordsBefore: 0)
                        return
                    }
                    anchor =
                        current.prev == String(repeating: "0", count: 64)
                        ? "anchored at the start of the log (\(current.location), prev all zeros)"
                        : "anchored at \(current.location): older files were deleted, so its prev cannot be checked"
                }
                checked += 1
                lastGood = current
                pending.removeFirst()
            }
        }

        for (index, file) in files.enumerated() {
            var lineNumber = 0
            let isLive = index == files.count - 1
            file.forEachLine(from: 0, to: file.size()) { bytes, offset, terminated in
                lineNumber += 1
                let location = Location(path: file.path, line: lineNumber)
                if !terminated {
                    let why = isLive ? "the writer may be mid-write" : "the file was rotated mid-line"
                    warnings.note("warning: \(location): last line has no newline (\(why)); not checked")
                    return false
                }
                let (line, _) = AlertLine.parse(bytes)
                let digest = SHA256.hash(data: bytes)
                let entry = Entry(
                    location: location, hash: hex(digest), seq: line?.seq, prev: line?.prev, parsed: line != nil)
                pending.append(entry)
                judge(final: false)
                return failure == nil
            }
            if failure != nil { break }
        }
        if failure == nil { judge(final: true) }
        if let failure { return failure }
        if checked == 0 { anchor = "empty: no complete record yet" }
        return .intact(records: checked, files: files.count, anchor: anchor)
    }

    private static func anchorProblem(_ first: Entry) -> String? {
        guard first.parsed else { return "not a JSON object" }
        guard first.seq != nil else { return "`seq` is missing or not an integer" }
        guard let prev = first.prev, isHash(prev) else { return "`prev` is missing or not 64 lowercase hex digits" }
        return nil
    }

    /// Why `current` does not follow `previous`, naming the line at fault; `next` helps tell which was altered.
    private static func problem(previous: Entry, current: Entry, next: Entry?) -> (Location, String)? {
        guard current.parsed else { return (current.location, "not a JSON object") }
        guard let seq = current.seq else { return (current.location, "`seq` is missing or not an integer") }
        guard let prev = current.prev, isHash(prev) else {
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

    private static func isHash(_ text: String) -> Bool {
        text.utf8.count == 64 && text.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

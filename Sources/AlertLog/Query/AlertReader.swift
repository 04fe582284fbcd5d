/// Reads records out of an ``AlertLogSet`` for `firewatch alerts`: filters, `-n` from the end (reading
/// backwards), and `--since`/`--until` by seeking (binary search on `time`) instead of scanning.
///
/// Assumes what the writer guarantees: records appear in the order they happened, so `time` does not go
/// down within the log. A record out of time order near a window edge may be missed; nothing crashes.
/// Not `Sendable`: it owns open files and is used by one task.
public final class AlertReader {
    /// Where reading stopped in the live file, for `--follow` to carry on from.
    public struct FollowPoint {
        public var file: AlertLogFile
        public var offset: Int64
    }

    private let set: AlertLogSet
    private let warnings: AlertWarnings
    /// Open files, oldest first, the live file last. Opened together so a rotation mid-read is harmless.
    private let files: [AlertLogFile]
    private let liveSize: Int64

    /// Opens the live file and every rotated file. Throws `.logMissing` when the live file is not there.
    public init(set: AlertLogSet, warnings: AlertWarnings, origin: String = "--log") throws(AlertReadError) {
        self.set = set
        self.warnings = warnings
        let live: AlertLogFile
        do {
            live = try AlertLogFile(path: set.livePath)
        } catch {
            let code: AlertReadError.Code = error.errno == 2 ? .logMissing : .io  // ENOENT
            throw AlertReadError(
                code, "cannot open the alert log \(error) (path from \(origin))",
                hint: "give the log with --log FILE, or the site file whose `alert_log:` names it with --config FILE")
        }
        liveSize = live.size()
        var opened: [AlertLogFile] = []
        for path in set.rotatedPaths.reversed() {
            // A rotated file that vanished between discovery and now was rotated out: skip it.
            if let file = try? AlertLogFile(path: path) { opened.append(file) }
        }
        files = opened + [live]
    }

    /// The live file.
    public var liveFile: AlertLogFile { files[files.count - 1] }

    /// Calls `emit` with each matching record, oldest first. Returns where the live file was read up to
    /// (before a half-written last line, which is left for `--follow`).
    @discardableResult
    public func read(
        _ query: AlertQuery, leaveTornLineForFollow: Bool = false, emit: (AlertLine) throws -> Void
    ) throws -> FollowPoint {
        if let limit = query.limit {
            return try readLast(limit, query, leaveTornLineForFollow, emit)
        }
        var followOffset = liveSize
        let needles = query.filter.requiredNeedles()
        for (index, file) in files.enumerated() {
            let isLive = index == files.count - 1
            let size = isLive ? liveSize : file.size()
            var start: Int64 = 0
            if let since = query.since {
                // A whole rotated file older than the window is skipped by looking at its last line only.
                if !isLive, let last = lastTime(of: file, size: size), last < since { continue }
                start = seek(file, size: size, toFirstAtOrAfter: since).low
            }
            if let until = query.until, let first = firstTime(of: file, size: size), first > until { break }
            var pastUntil = false
            try file.forEachLine(from: start, to: size) { bytes, offset, terminated in
                if !terminated {
                    if isLive && leaveTornLineForFollow {
                        followOffset = offset
                    } else {
                        warnTorn(file, offset, isLive: isLive)
                    }
                    return false
                }
                if let needles, lineCannotMatch(bytes, needles: needles) { return true }
                guard let line = parse(bytes, file, offset) else { return true }
                if let until = query.until, let time = line.time, time > until {
                    pastUntil = true
                    return false
                }
                if query.admits(line) { try emit(line) }
                return true
            }
            if pastUntil { break }
        }
        return FollowPoint(file: liveFile, offset: followOffset)
    }

    private func readLast(
        _ limit: Int, _ query: AlertQuery, _ leaveTorn: Bool, _ emit: (AlertLine) throws -> Void
    ) throws -> FollowPoint {
        var followOffset = liveSize
        var picked: [AlertLine] = []
        picked.reserveCapacity(min(limit, 10_000))
        let needles = query.filter.requiredNeedles()
        var done = limit == 0
        for (index, file) in files.enumerated().reversed() where !done {
            let isLive = index == files.count - 1
            var end = isLive ? liveSize : file.size()
            if let until = query.until {
                if let first = firstTime(of: file, size: end), first > until { continue }
                end = seek(file, size: end, toFirstAtOrAfter: until + 1).high
            }
            file.forEachLineBackward(to: end) { bytes, offset, terminated in
                if !terminated {
                    if isLive && leaveTorn { followOffset = offset } else { warnTorn(file, offset, isLive: isLive) }
                    return true
                }
                if let needles, lineCannotMatch(bytes, needles: needles) { return true }
                guard let line = parse(bytes, file, offset) else { return true }
                if let since = query.since, let time = line.time, time < since {
                    done = true
                    return false
                }
                if query.admits(line) {
                    picked.append(line)
                    if picked.count >= limit {
                        done = true
                        return false
                    }
                }
                return true
            }
        }
        if limit == 0, leaveTorn {
            // Nothing to print, but --follow must still start after the last whole line.
            liveFile.forEachLineBackward(to: liveSize) { _, offset, terminated in
                if !terminated { followOffset = offset }
                return false
            }
        }
        for line in picked.reversed() { try emit(line) }
        return FollowPoint(file: liveFile, offset: followOffset)
    }

    /// Parses one whole line and reports its problems; nil when it is not a JSON object or is empty.
    func parse(_ bytes: UnsafeRawBufferPointer, _ file: AlertLogFile, _ offset: Int64) -> AlertLine? {
        Self.parse(bytes, file, offset, warnings)
    }

    static func parse(
        _ bytes: UnsafeRawBufferPointer, _ file: AlertLogFile, _ offset: Int64, _ warnings: AlertWarnings
    ) -> AlertLine? {
        guard !bytes.isEmpty else {
            warnings.report(
                AlertLineProblem(kind: .missing(field: "record (empty line)")), at: { file.location(at: offset) })
            return nil
        }
        let (line, problems) = AlertLine.parse(bytes)
        for problem in problems { warnings.report(problem, at: { file.location(at: offset) }) }
        return line
    }

    private func warnTorn(_ file: AlertLogFile, _ offset: Int64, isLive: Bool) {
        let why = isLive ? "the writer may be mid-write" : "the file was rotated mid-line"
        warnings.report(
            AlertLineProblem(kind: .badValue(field: "last line", value: "without a newline (\(why)); skipped")),
            at: { file.location(at: offset) })
    }

    /// Time of the first whole line with a readable `time`, looking at a bounded number of lines.
    func firstTime(of file: AlertLogFile, size: Int64) -> Int64? {
        var found: Int64?
        var tries = 0
        file.forEachLine(from: 0, to: size) { bytes, _, terminated in
            tries += 1
            if terminated, let time = Self.quietTime(bytes) { found = time }
            return found == nil && tries < 100
        }
        return found
    }

    /// Time of the last whole line with a readable `time`, reading backwards a bounded number of lines.
    func lastTime(of file: AlertLogFile, size: Int64) -> Int64? {
        var found: Int64?
        var tries = 0
        file.forEachLineBackward(to: size) { bytes, _, terminated in
            tries += 1
            if terminated, let time = Self.quietTime(bytes) { found = time }
            return found == nil && tries < 100
        }
        return found
    }

    /// Bisects byte offsets (resyncing to the next `\n`) for the first line whose `time` is at least `target`.
    /// `low` is a line start every line before which is older; `high` is where lines stop being older. The
    /// caller filters exactly: `since` reads from `low`, `until` reads up to `high`.
    func seek(_ file: AlertLogFile, size: Int64, toFirstAtOrAfter target: Int64) -> (low: Int64, high: Int64) {
        var low: Int64 = 0  // a line start; every line before it is older than target
        var high = size  // the first line at or after target starts at or before high
        // 64 rounds halve far more than any file size; the bound keeps a damaged file from looping.
        for _ in 0..<64 where high - low > 256 * 1024 {
            let middle = low + (high - low) / 2
            guard let (lineStart, time) = firstTimedLine(file, from: middle, before: high) else {
                high = middle
                continue
            }
            if time < target { low = lineStart } else { high = lineStart }
        }
        return (low, high)
    }

    /// The first line that starts after `from` (resynced past the next `\n`) and carries a readable time.
    private func firstTimedLine(_ file: AlertLogFile, from: Int64, before limit: Int64) -> (Int64, Int64)? {
        var result: (Int64, Int64)?
        var skippedPartial = false
        var tries = 0
        file.forEachLine(from: from - 1, to: limit) { bytes, offset, terminated in
            if !skippedPartial {  // the (rest of the) line `from - 1` falls in
                skippedPartial = true
                return true
            }
            tries += 1
            if terminated, let time = Self.quietTime(bytes) { result = (offset, time) }
            return result == nil && tries < 100
        }
        return result
    }

    /// `time` of a line, without warnings: seeking looks at lines it may never show.
    static func quietTime(_ bytes: UnsafeRawBufferPointer) -> Int64? {
        AlertLine.parse(bytes).0?.time
    }
}

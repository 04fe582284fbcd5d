#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--follow`: keeps reading the live file as lines are appended, like `tail -F`.
///
/// Each poll first looks at what the path names now, then drains the open file to its end, and only then
/// switches to a new file: a writer renames the old file after its last write, so draining after the look
/// loses nothing. A file that got shorter was truncated and is read again from its start. Bytes after the
/// last `\n` are held back until their newline arrives, so a half-written line is never shown.
///
/// Not `Sendable`: one task follows.
public final class AlertFollower {
    private let path: String
    private let warnings: AlertWarnings
    private var file: AlertLogFile?
    private var offset: Int64

    /// Follows `path`, starting in `file` (if open) at `offset` (a line start).
    public init(path: String, file: AlertLogFile?, offset: Int64, warnings: AlertWarnings) {
        self.path = path
        self.file = file
        self.offset = offset
        self.warnings = warnings
    }

    /// Polls until `shouldStop` says so. `emit` gets each parsed whole line; `batchDone` runs after each poll
    /// that emitted something (flush there); `pause` waits between polls (a short sleep in the CLI).
    public func run(
        shouldStop: () -> Bool,
        pause: () -> Void,
        emit: (AlertLine) throws -> Void,
        batchDone: () throws -> Void
    ) throws {
        var waitingSaid = false
        while !shouldStop() {
            let current = Self.identity(of: path)
            let switchTo = current != nil && current != file?.identity()
            if let file {
                try drain(file, emit: emit)
            }
            try batchDone()
            if switchTo {
                if let file, offset < file.size() {
                    warnings.note(
                        "warning: \(file.location(at: offset)): rotated away with an incomplete last line; skipped")
                }
                if let opened = try? AlertLogFile(path: path) {
                    if file != nil { warnings.note("note: \(path) was replaced (rotated); following the new file") }
                    file = opened
                    offset = 0
                    waitingSaid = false
                    continue  // read the new file at once: it may already hold lines
                }
            } else if current == nil, !waitingSaid {
                warnings.note("note: \(path) does not exist (yet); waiting for it to appear")
                waitingSaid = true
            }
            pause()
        }
    }

    private func drain(_ file: AlertLogFile, emit: (AlertLine) throws -> Void) throws {
        let size = file.size()
        if size < offset {
            warnings.note("note: \(path) was truncated; reading it again from the start")
            offset = 0
            file.forgetLineNumbers()
        }
        guard size > offset else { return }
        try file.forEachLine(from: offset, to: size) { bytes, lineOffset, terminated in
            guard terminated else { return false }  // wait for the rest of this line
            offset = lineOffset + Int64(bytes.count) + 1
            if let line = AlertReader.parse(bytes, file, lineOffset, warnings) { try emit(line) }
            return true
        }
    }

    /// Device and inode of whatever `path` names now, or nil when nothing does.
    static func identity(of path: String) -> FileIdentity? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }
}

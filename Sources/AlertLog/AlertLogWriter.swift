import Crypto
import Dispatch
import FireSafety
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How the alert log is kept on disk.
public struct AlertLogConfiguration: Sendable {
    /// The live log file, e.g. `/var/lib/firewatch/alerts.jsonl`.
    /// Rotated files are `<path>.1` (newest) … `<path>.<keep>`.
    public var path: String
    /// Rotate before a line would make the live file larger than this.
    public var maxBytes: Int
    /// Rotated files kept; older ones are deleted. At least 1.
    public var keep: Int
    /// Records held in memory while the disk cannot take them. Beyond this, *new* records are refused
    /// (`AppendOutcome.refused`): the oldest ones hold the latch and procedure history recovery needs.
    public var backlogLimit: Int
    /// `site` written into the writer's own records (`log.rotated`, `log.truncated`); omitted when nil.
    public var site: String?
    /// The clock for the `time` of the writer's own records.
    public var now: @Sendable () -> Date
    /// The members of a `state.checkpoint` record as of the last line written (the argument says why one is
    /// written). When set, every new file starts with one, so restore never needs an older file.
    public var checkpoint: (@Sendable (String) -> [JSONMember])?
    /// Told of every line once it is durable, in order (the daemon folds them into the state checkpoints hold).
    public var onWritten: (@Sendable ([JSONMember]) -> Void)?

    public init(
        path: String, maxBytes: Int = 16 << 20, keep: Int = 10, backlogLimit: Int = 100_000, site: String? = nil,
        now: @escaping @Sendable () -> Date = { Date() }, checkpoint: (@Sendable (String) -> [JSONMember])? = nil,
        onWritten: (@Sendable ([JSONMember]) -> Void)? = nil
    ) {
        self.path = path
        self.maxBytes = max(maxBytes, 1)
        self.keep = max(keep, 1)
        self.backlogLimit = max(backlogLimit, 1)
        self.site = site
        self.now = now
        self.checkpoint = checkpoint
        self.onWritten = onWritten
    }
}

/// What became of one `append`.
public enum AppendOutcome: Sendable, Equatable {
    /// The record (and every record before it) is written and fsynced; it got sequence number `seq`.
    case durable(seq: Int)
    /// The disk did not take it: the record is held in memory (`backlog` records in all) and retried on the
    /// next `append` or `retry()`. Act on the decision anyway — actuation never waits for the disk.
    case pending(backlog: Int)
    /// The in-memory backlog is full and this record was not kept. The writer logs each one at `critical`.
    case refused(backlog: Int)

    /// True when the record is on disk.
    public var isDurable: Bool {
        if case .durable = self { return true }
        return false
    }
}

/// The append-only, hash-chained, fsynced alert log (JSON Lines, see CONTRACT.md "Alert log").
///
/// Callers give a record as ordered members *without* `seq` and `prev`; the writer puts `seq` first and
/// `prev` (lowercase hex SHA-256 of the previous line's bytes, without `\n`) last, writes one line, and
/// fsyncs before `append` returns. All state sits behind a mutex, so `append` may be called from any thread;
/// it blocks on disk I/O, so async callers use `append(_:) async`, which runs on a private dispatch queue.
///
/// Disk trouble never loses or blocks a record: it is held in memory in order and written, chained, on a
/// later `append` or `retry()`; `isDegraded`, `backlogCount` and `lastError` say so for status.
///
/// On open the writer continues from the file's last complete line. A torn last line (no `\n`, a crash
/// mid-write) is cut off and quoted in a `log.truncated` record (severity `trouble`), so the chain only ever
/// covers complete lines and nothing is lost silently. A live file that is empty while `<path>.1` exists
/// (a crash between rotation steps) chains to `<path>.1` with a `log.rotated` record.
public final class AlertLogWriter: Sendable {
    /// 64 zeros: the `prev` of the first line of a fresh log.
    public static let genesisHash = String(repeating: "0", count: 64)

    public let configuration: AlertLogConfiguration
    private let logger: Logger
    /// Told of each change between durable and not (called with the writer's lock held: only hand it on).
    private let onDurabilityChange: (@Sendable (LogDurabilityChange) -> Void)?
    private let state: Mutex<State>
    // Serial, and not the cooperative pool: fsync may block for a long time on a sick disk.
    private let queue = DispatchQueue(label: "firewatch.alert-log")

    private struct State: ~Copyable {
        var fd: Int32 = -1
        var nextSeq = 1
        var prevHash = AlertLogWriter.genesisHash
        var fileSize = 0
        /// The live file is fresh after a rotation and owes its `log.rotated` first line.
        var owesRotationRecord = false
        /// Size of the live file's `log.rotated` first line: a file holding only that is never rotated again,
        /// or a `maxBytes` smaller than two lines would rotate forever.
        var headerSize = 0
        var backlog: [[JSONMember]] = []
        var backlogHead = 0
        var lastError: AlertLogError?
        var refusedCount = 0
        var closed = false
        /// A checkpoint was asked for (`appendCheckpoint`) and is written once the backlog is on disk.
        var checkpointDue: String?

        var backlogCount: Int { backlog.count - backlogHead }
    }

    /// Creates a writer and tries to open the log at once; a failure to open is not thrown but reported
    /// through `isDegraded`/`lastError`, because the daemon must protect the site even without a log.
    public init(
        configuration: AlertLogConfiguration, logger: Logger,
        onDurabilityChange: (@Sendable (LogDurabilityChange) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.logger = logger
        self.onDurabilityChange = onDurabilityChange
        self.state = Mutex(State())
        state.withLock { s in
            do { try openLocked(&s) } catch { fail(&s, error) }
        }
    }

    // MARK: Status

    /// Everything `status` shows about the log, read under one lock.
    public struct Status: Sendable, Equatable {
        /// Records are held in memory because the disk did not take them (or the file is not open).
        public var isDegraded: Bool
        public var backlogCount: Int
        public var lastError: AlertLogError?
        public var refusedCount: Int
        public var nextSeq: Int
    }

    /// A consistent snapshot for `firewatch status`, metrics and `STATUS=`.
    public var status: Status {
        state.withLock { s in
            Status(
                isDegraded: s.backlogCount > 0 || s.fd < 0, backlogCount: s.backlogCount, lastError: s.lastError,
                refusedCount: s.refusedCount, nextSeq: s.nextSeq)
        }
    }

    /// True while records are held in memory because the disk did not take them.
    public var isDegraded: Bool { state.withLock { $0.backlogCount > 0 || $0.fd < 0 } }
    /// Records held in memory, not yet on disk.
    public var backlogCount: Int { state.withLock { $0.backlogCount } }
    /// The most recent failure; cleared when a write succeeds again.
    public var lastError: AlertLogError? { state.withLock { $0.lastError } }
    /// Records refused because the backlog was full, since start.
    public var refusedCount: Int { state.withLock { $0.refusedCount } }
    /// The `seq` the next durable record will get (records held in memory get theirs when written).
    public var nextSeq: Int { state.withLock { $0.nextSeq } }
    /// The `prev` the next durable record will carry.
    public var lastHash: String { state.withLock { $0.prevHash } }

    // MARK: Appending

    /// Appends one record and fsyncs it (and any held records before it) before returning.
    ///
    /// Members named `seq` or `prev` are dropped: the writer owns them. Blocks on disk I/O.
    @discardableResult
    public func append(_ members: [JSONMember]) -> AppendOutcome {
        let record = members.filter { $0.key != "seq" && $0.key != "prev" }
        return state.withLock { s -> AppendOutcome in
            guard s.backlogCount < configuration.backlogLimit else {
                s.refusedCount += 1
                logger.critical(
                    "alert log backlog full; record NOT kept",
                    metadata: ["backlog": "\(s.backlogCount)", "record": "\(JSONWriter.serialize(members: record))"])
                _ = flushLocked(&s)
                return .refused(backlog: s.backlogCount)
            }
            s.backlog.append(record)
            if flushLocked(&s) { return .durable(seq: s.nextSeq - 1) }
            return .pending(backlog: s.backlogCount)
        }
    }

    /// Appends on the writer's own queue, so the cooperative pool never waits for the disk.
    @discardableResult
    public func append(_ members: [JSONMember]) async -> AppendOutcome {
        await withCheckedContinuation { (c: CheckedContinuation<AppendOutcome, Never>) in
            queue.async { c.resume(returning: self.append(members)) }
        }
    }

    /// Writes a `state.checkpoint` record (at start, and hourly) once every held record is on disk; if the disk
    /// does not take it now, it is written with the next flush. Needs `configuration.checkpoint`.
    public func appendCheckpoint(why: String) async {
        await withCheckedContinuation { (c: CheckedContinuation<Void, Never>) in
            queue.async {
                self.state.withLock { s in
                    guard self.configuration.checkpoint != nil else { return }
                    s.checkpointDue = why
                    _ = self.flushLocked(&s)
                }
                c.resume()
            }
        }
    }

    /// Tries again to write held records. Returns true when none are left.
    @discardableResult
    public func retry() -> Bool {
        state.withLock { s in flushLocked(&s) }
    }

    /// Writes what it can and closes the file. Later appends are held in memory only.
    public func close() {
        state.withLock { s in
            _ = flushLocked(&s)
            if s.fd >= 0 { _ = closeDescriptor(s.fd) }
            s.fd = -1
            s.closed = true
        }
    }

    deinit {
        state.withLock { s in
            if s.fd >= 0 { _ = closeDescriptor(s.fd) }
        }
    }

    // MARK: Internals (all called with the lock held)

    private func fail(_ s: inout State, _ error: any Error) {
        let e =
            (error as? AlertLogError)
            ?? AlertLogError(code: .write, path: configuration.path, message: "\(error)", hint: "see the log")
        let wasHealthy = s.lastError == nil
        s.lastError = e
        // Close so the next attempt reopens: the file may have been replaced (or was /dev/full).
        if s.fd >= 0 { _ = closeDescriptor(s.fd) }
        s.fd = -1
        if wasHealthy {
            logger.critical(
                "alert log NOT durable, holding records in memory: \(e.message)",
                metadata: ["path": "\(e.path)", "hint": "\(e.hint)", "backlog": "\(s.backlogCount)"])
            onDurabilityChange?(.notDurable(problem: e.message, hint: e.hint))
        } else {
            logger.error(
                "alert log still not durable: \(e.message)",
                metadata: ["path": "\(e.path)", "backlog": "\(s.backlogCount)"])
        }
    }

    /// Writes held records in order. Returns true when the backlog is empty.
    private func flushLocked(_ s: inout State) -> Bool {
        if s.closed { return s.backlogCount == 0 }
        let hadError = s.lastError != nil
        let held = s.backlogCount
        do {
            if s.fd < 0 { try openLocked(&s) }
            while true {
                if s.fileSize == 0, let checkpoint = configuration.checkpoint {
                    // Every file starts with the state so far: rotation can then drop old files and forget nothing.
                    try writeLineLocked(&s, checkpoint(s.owesRotationRecord ? "log rotated" : "new log file"))
                    s.headerSize = s.fileSize
                    if s.checkpointDue != nil { s.checkpointDue = nil }
                }
                if s.owesRotationRecord {
                    let message = "log rotated; this file continues the chain of \(configuration.path).1"
                    try writeLineLocked(&s, ownRecord(severity: .info, event: .logRotated, message: message))
                    s.owesRotationRecord = false
                    s.headerSize = s.fileSize
                }
                guard s.backlogHead < s.backlog.count else {
                    guard let why = s.checkpointDue, let checkpoint = configuration.checkpoint else { break }
                    let record = checkpoint(why)
                    let size = serializedLine(seq: s.nextSeq, record, prev: s.prevHash).count
                    if s.fileSize > s.headerSize && s.fileSize + size > configuration.maxBytes {
                        try rotateLocked(&s)
                        continue
                    }
                    try writeLineLocked(&s, record)
                    s.checkpointDue = nil
                    break
                }
                let record = s.backlog[s.backlogHead]
                let size = serializedLine(seq: s.nextSeq, record, prev: s.prevHash).count
                if s.fileSize > s.headerSize && s.fileSize + size > configuration.maxBytes {
                    try rotateLocked(&s)
                    continue
                }
                try writeLineLocked(&s, record)
                s.backlog[s.backlogHead] = []
                s.backlogHead += 1
            }
            s.backlog.removeAll(keepingCapacity: false)
            s.backlogHead = 0
            if hadError {
                s.lastError = nil
                logger.notice("alert log writable again", metadata: ["written_from_memory": "\(held)"])
                onDurabilityChange?(.durable(written: held))
            }
            return true
        } catch {
            fail(&s, error)
            // Compact now and then so a long outage does not keep written slots around.
            if s.backlogHead > 1024 && s.backlogHead * 2 > s.backlog.count {
                s.backlog.removeFirst(s.backlogHead)
                s.backlogHead = 0
            }
            return false
        }
    }

    private func ownRecord(severity: Severity, event: AlertEvent, message: String, extra: [JSONMember] = [])
        -> [JSONMember]
    {
        var m: [JSONMember] = [JSONMember("time", .string(Self.logTime(configuration.now())))]
        if let site = configuration.site { m.append(JSONMember("site", .string(site))) }
        m.append(JSONMember("severity", .string(severity.name)))
        m.append(JSONMember("event", .string(event.rawValue)))
        m += extra
        m.append(JSONMember("message", .string(message)))
        return m
    }

    private func serializedLine(seq: Int, _ record: [JSONMember], prev: String) -> [UInt8] {
        let members = [JSONMember("seq", .int(seq))] + record + [JSONMember("prev", .string(prev))]
        return Array(JSONWriter.serialize(members: members).utf8)
    }

    /// Writes one line and fsyncs it; on failure cuts the file back so no partial line stays in the chain.
    private func writeLineLocked(_ s: inout State, _ record: [JSONMember]) throws {
        let line = serializedLine(seq: s.nextSeq, record, prev: s.prevHash)
        let path = configuration.path
        var bytes = line
        bytes.append(0x0A)
        let err: Int32? = bytes.withUnsafeBytes { buf -> Int32? in
            var offset = 0
            while offset < buf.count {
                let n = write(s.fd, buf.baseAddress! + offset, buf.count - offset)
                if n < 0 {
                    if errno == EINTR { continue }
                    return errno
                }
                offset += n
            }
            return nil
        }
        if let err {
            _ = ftruncate(s.fd, off_t(s.fileSize))  // best effort; a reopen also cuts a torn tail
            throw AlertLogError.system(.write, path: path, call: "write", errno: err)
        }
        if fsync(s.fd) != 0 {
            let err = errno
            _ = ftruncate(s.fd, off_t(s.fileSize))
            throw AlertLogError.system(.write, path: path, call: "fsync", errno: err)
        }
        s.fileSize += bytes.count
        s.nextSeq += 1
        s.prevHash = AlertLogWriter.sha256Hex(line)
        configuration.onWritten?(record)
    }

    /// Opens the live file and takes `nextSeq`/`prevHash` from what is on disk: the disk is the truth.
    private func openLocked(_ s: inout State) throws {
        let path = configuration.path
        let fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_CLOEXEC, 0o640)
        if fd < 0 { throw AlertLogError.system(.open, path: path, call: "open", errno: errno) }
        do {
            let tail = try LogTail.read(fd: fd, path: path)
            if let torn = tail.torn {
                if ftruncate(fd, off_t(torn.offset)) != 0 || fsync(fd) != 0 {
                    throw AlertLogError.system(.write, path: path, call: "ftruncate", errno: errno)
                }
                let fragment = String(decoding: torn.prefix, as: UTF8.self)
                let record = ownRecord(
                    severity: .trouble, event: .logTruncated,
                    message: "the last line of \(path) was incomplete (the daemon stopped mid-write); "
                        + "\(torn.length) bytes were cut from the chain and are quoted in fragment",
                    extra: [JSONMember("bytes", .int(torn.length)), JSONMember("fragment", .string(fragment))])
                // It describes the disk as found, so it goes before anything held in memory.
                if s.backlogHead > 0 {
                    s.backlogHead -= 1
                    s.backlog[s.backlogHead] = record
                } else {
                    s.backlog.insert(record, at: 0)
                }
                logger.warning("alert log had a torn last line; cut it off", metadata: ["bytes": "\(torn.length)"])
            }
            s.fileSize = tail.completeSize
            s.headerSize = 0
            s.owesRotationRecord = false
            if let last = tail.lastLine {
                s.nextSeq = try Self.seq(of: last, path: path) + 1
                s.prevHash = Self.sha256Hex(last)
            } else if let previous = try Self.lastLineOfRotated(path: "\(path).1") {
                s.nextSeq = try Self.seq(of: previous, path: "\(path).1") + 1
                s.prevHash = Self.sha256Hex(previous)
                s.owesRotationRecord = true
            } else {
                s.nextSeq = 1
                s.prevHash = Self.genesisHash
            }
            s.fd = fd
        } catch {
            _ = closeDescriptor(fd)
            throw error
        }
    }

    private static func lastLineOfRotated(path: String) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { _ = closeDescriptor(fd) }
        return try LogTail.read(fd: fd, path: path).lastLine
    }

    private static func seq(of line: [UInt8], path: String) throws -> Int {
        if let value = try? JSONDecoder().decode(JSONValue.self, from: Data(line)), let seq = value["seq"]?.intValue {
            return seq
        }
        throw AlertLogError(
            code: .corruptTail, path: path,
            message: "the last line of \(path) is not an alert record with a seq; the chain cannot be continued",
            hint: "move \(path) aside (run `firewatch alerts verify --log \(path)`), then restart; "
                + "records are kept in memory meanwhile")
    }

    /// Shifts `<path>.k` to `<path>.(k+1)` (dropping the one beyond `keep`), the live file to `<path>.1`,
    /// and opens a fresh live file chained to it.
    private func rotateLocked(_ s: inout State) throws {
        let path = configuration.path
        if s.fd >= 0 { _ = closeDescriptor(s.fd) }
        s.fd = -1
        for k in stride(from: configuration.keep - 1, through: 1, by: -1) {
            if rename("\(path).\(k)", "\(path).\(k + 1)") != 0 && errno != ENOENT {
                throw AlertLogError.system(.rotate, path: "\(path).\(k)", call: "rename", errno: errno)
            }
        }
        if rename(path, "\(path).1") != 0 {
            throw AlertLogError.system(.rotate, path: path, call: "rename", errno: errno)
        }
        Self.fsyncDirectory(of: path)
        try openLocked(&s)
        Self.fsyncDirectory(of: path)
        logger.info("alert log rotated", metadata: ["path": "\(path)", "seq": "\(s.nextSeq)"])
    }

    private static func fsyncDirectory(of path: String) {
        let dir = (path as NSString).deletingLastPathComponent
        let fd = open(dir.isEmpty ? "." : dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd >= 0 {
            _ = fsync(fd)
            _ = closeDescriptor(fd)
        }
    }

    /// A record's `time`: UTC, millisecond precision (rounded down), e.g. `2026-11-24T03:12:09.125Z`, in
    /// `Timestamp`'s one format.
    public static func logTime(_ date: Date) -> String {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded(.down))
        return Timestamp(nanoseconds: ms * 1_000_000).description
    }

    /// Lowercase hex SHA-256 of `bytes`: the one helper for a line's hash (the writer's `prev`, the verifier's
    /// check, `AlertLine.hash`).
    public static func sha256Hex(_ bytes: some Sequence<UInt8>) -> String {
        let digest = SHA256.hash(data: Array(bytes))
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// The end of a log file: its last complete line and any torn bytes after it.
struct LogTail {
    struct Torn {
        var offset: Int
        var length: Int
        /// The first bytes of the torn part, for quoting.
        var prefix: [UInt8]
    }
    var lastLine: [UInt8]?
    var torn: Torn?
    /// Bytes up to and including the last `\n`.
    var completeSize: Int

    static let maxLine = 1 << 20

    static func read(fd: Int32, path: String) throws -> LogTail {
        var st = stat()
        if fstat(fd, &st) != 0 { throw AlertLogError.system(.read, path: path, call: "fstat", errno: errno) }
        // Character devices (/dev/full in tests) and FIFOs have no content to continue from.
        let size = (st.st_mode & S_IFMT) == S_IFREG ? Int(st.st_size) : 0
        if size == 0 { return LogTail(lastLine: nil, torn: nil, completeSize: 0) }
        let lastNewline = try lastIndex(ofNewlineBefore: size, fd: fd, path: path)
        var torn: Torn?
        var end = size
        if lastNewline != size - 1 {
            let start = (lastNewline ?? -1) + 1
            let prefix = try pread(fd: fd, offset: start, count: min(size - start, 4096), path: path)
            torn = Torn(offset: start, length: size - start, prefix: prefix)
            end = start
        }
        guard end > 0 else { return LogTail(lastLine: nil, torn: torn, completeSize: 0) }
        let lineStart = (try lastIndex(ofNewlineBefore: end - 1, fd: fd, path: path) ?? -1) + 1
        guard end - 1 - lineStart <= maxLine else {
            throw AlertLogError(
                code: .corruptTail, path: path, message: "the last line of \(path) is longer than 1 MiB",
                hint: "move \(path) aside and restart; records are kept in memory meanwhile")
        }
        let line = try pread(fd: fd, offset: lineStart, count: end - 1 - lineStart, path: path)
        return LogTail(lastLine: line, torn: torn, completeSize: end)
    }

    /// The offset of the last `\n` strictly before `end`, scanning back in blocks (at most `maxLine` + 64 KiB).
    static func lastIndex(ofNewlineBefore end: Int, fd: Int32, path: String) throws -> Int? {
        var blockEnd = end
        let block = 65_536
        while blockEnd > 0 && end - blockEnd <= maxLine {
            let start = max(0, blockEnd - block)
            let bytes = try pread(fd: fd, offset: start, count: blockEnd - start, path: path)
            if let i = bytes.lastIndex(of: 0x0A) { return start + i }
            blockEnd = start
        }
        return nil
    }

    static func pread(fd: Int32, offset: Int, count: Int, path: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < count {
            let n = out.withUnsafeMutableBytes { buf in
                systemPread(fd, buf.baseAddress! + done, count - done, off_t(offset + done))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw AlertLogError.system(.read, path: path, call: "read", errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return Array(out[0..<done])
    }
}

// File-scope wrappers: inside the types above, `close` and `pread` name their own methods.
private func closeDescriptor(_ fd: Int32) -> Int32 { close(fd) }

private func systemPread(_ fd: Int32, _ buffer: UnsafeMutableRawPointer, _ count: Int, _ offset: off_t) -> Int {
    pread(fd, buffer, count, offset)
}

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// An open alert-log file read with `pread` into large buffers and split on `\n` with `memchr`, so a
/// gigabyte is never turned into one `String` per byte or per line it does not need.
///
/// Not `Sendable`: one reading task owns it (it caches line-number checkpoints).
public final class AlertLogFile {
    /// The path as given, used in `file:line` messages.
    public let path: String
    let fd: Int32
    /// Known (byte offset of a line start → its 1-based line number), so numbers for warnings are counted once.
    private var checkpoints: [(offset: Int64, line: Int)] = [(0, 1)]

    static let chunkSize = 1 << 20

    /// Opens `path` read-only, or throws the `errno` of `open(2)`.
    public init(path: String) throws(AlertLogFileError) {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw AlertLogFileError(path: path, errno: errno) }
        self.fd = fd
    }

    deinit { close(fd) }

    /// The file's size now.
    public func size() -> Int64 {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return 0 }
        return Int64(info.st_size)
    }

    /// Device and inode, to tell a file renamed away from a new file at the same path.
    public func identity() -> FileIdentity? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return FileIdentity(device: UInt64(info.st_dev), inode: UInt64(info.st_ino))
    }

    /// Reads up to `buffer.count` bytes at `offset`; 0 at end of file.
    func read(at offset: Int64, into buffer: UnsafeMutableRawBufferPointer) -> Int {
        while true {
            let n = pread(fd, buffer.baseAddress, buffer.count, off_t(offset))
            if n >= 0 { return n }
            if errno != EINTR { return 0 }
        }
    }

    /// Calls `body` with each line in `[start, end)`, first to last. `terminated` is false for trailing bytes
    /// without a `\n` (a torn or half-written last line). `body` returns false to stop.
    public func forEachLine(
        from start: Int64, to end: Int64,
        _ body: (_ line: UnsafeRawBufferPointer, _ offset: Int64, _ terminated: Bool) throws -> Bool
    ) rethrows {
        var buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var filled = 0
        var bufferOffset = start
        var position = start
        while position < end {
            if filled == buffer.count {  // one line longer than the buffer: grow rather than split it
                let bigger = UnsafeMutableRawBufferPointer.allocate(byteCount: buffer.count * 2, alignment: 16)
                bigger.copyMemory(from: UnsafeRawBufferPointer(rebasing: buffer[0..<filled]))
                buffer.deallocate()
                buffer = bigger
            }
            let want = Int(min(Int64(buffer.count - filled), end - position))
            let got = read(
                at: position, into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled..<(filled + want)]))
            if got == 0 { break }
            position += Int64(got)
            filled += got
            let base = buffer.baseAddress!
            var lineStart = 0
            while lineStart < filled, let hit = memchr(base + lineStart, 0x0A, filled - lineStart) {
                let newline = base.distance(to: hit)
                let line = UnsafeRawBufferPointer(start: base + lineStart, count: newline - lineStart)
                if try !body(line, bufferOffset + Int64(lineStart), true) { return }
                lineStart = newline + 1
            }
            if lineStart > 0 {
                memmove(base, base + lineStart, filled - lineStart)
                filled -= lineStart
                bufferOffset += Int64(lineStart)
            }
        }
        if filled > 0 {
            _ = try body(UnsafeRawBufferPointer(rebasing: buffer[0..<filled]), bufferOffset, false)
        }
    }

    /// Calls `body` with each line in `[0, end)`, last to first, reading backwards in 64 KiB steps, so
    /// `-n 20` on a gigabyte touches only its tail. `body` returns false to stop.
    public func forEachLineBackward(
        to end: Int64,
        _ body: (_ line: UnsafeRawBufferPointer, _ offset: Int64, _ terminated: Bool) throws -> Bool
    ) rethrows {
        guard end > 0 else { return }
        let step = 64 * 1024
        var lastByte: UInt8 = 0
        _ = withUnsafeMutableBytes(of: &lastByte) { read(at: end - 1, into: $0) }
        // A final newline ends a whole line; bytes after the last newline are a torn line.
        var terminated = lastByte == 0x0A
        var windowStart = terminated ? end - 1 : end
        var pending: [UInt8] = []  // bytes [windowStart, end of the line not yet handed out)
        while true {
            let readStart = max(0, windowStart - Int64(step))
            let chunk = Int(windowStart - readStart)
            var combined = [UInt8](repeating: 0, count: chunk + pending.count)
            var got = 0
            combined.withUnsafeMutableBytes { all in
                got = read(at: readStart, into: UnsafeMutableRawBufferPointer(rebasing: all[0..<chunk]))
                if !pending.isEmpty {
                    pending.withUnsafeBytes {
                        UnsafeMutableRawBufferPointer(rebasing: all[chunk...]).copyMemory(from: $0)
                    }
                }
            }
            if got < chunk { return }  // the file shrank under us (truncated): nothing sensible left to read
            var lineEnd = combined.count
            var stop = false
            try combined.withUnsafeBytes { all in
                guard let base = all.baseAddress else {  // the file is a single "\n": one empty line
                    _ = try body(UnsafeRawBufferPointer(start: nil, count: 0), 0, terminated)
                    stop = true
                    return
                }
                // Newlines found forward once (memchr), then walked backwards.
                for newline in newlines(base, lineEnd).reversed() {
                    let line = UnsafeRawBufferPointer(start: base + newline + 1, count: lineEnd - newline - 1)
                    if try !body(line, readStart + Int64(newline + 1), terminated) { stop = true; return }
                    terminated = true
                    lineEnd = newline
                }
                if readStart == 0 {
                    _ = try body(UnsafeRawBufferPointer(start: base, count: lineEnd), 0, terminated)
                    stop = true
                }
            }
            if stop { return }
            pending = Array(combined[0..<lineEnd])
            windowStart = readStart
        }
    }

    /// The 1-based line number of the line starting at `offset`, counted from the nearest known line start.
    /// Only warnings need it, so seeking and reading backwards never pay for it up front.
    public func lineNumber(at offset: Int64) -> Int {
        let known = checkpoints.last(where: { $0.offset <= offset }) ?? (0, 1)
        var count = known.line
        forEachLine(from: known.offset, to: offset) { _, _, terminated in
            if terminated { count += 1 }
            return true
        }
        if let index = checkpoints.firstIndex(where: { $0.offset > offset }) {
            checkpoints.insert((offset, count), at: index)
        } else {
            checkpoints.append((offset, count))
        }
        return count
    }

    /// Drops remembered line numbers: after a truncation the same offsets hold other lines.
    public func forgetLineNumbers() { checkpoints = [(0, 1)] }

    /// `path:line` for the line starting at `offset`.
    public func location(at offset: Int64) -> String { "\(path):\(lineNumber(at: offset))" }
}

/// Offsets of every `\n` in `[base, base + count)`. `memrchr` is hidden behind `_GNU_SOURCE` in Swift's Glibc
/// module, so backward reading finds newlines forward with `memchr` (C speed) a chunk at a time.
private func newlines(_ base: UnsafeRawPointer, _ count: Int) -> [Int] {
    var found: [Int] = []
    var position = 0
    while position < count, let hit = memchr(base + position, 0x0A, count - position) {
        let offset = base.distance(to: UnsafeRawPointer(hit))
        found.append(offset)
        position = offset + 1
    }
    return found
}

/// Device and inode of an open file.
public struct FileIdentity: Sendable, Hashable {
    public var device: UInt64
    public var inode: UInt64
}

/// A log file that could not be opened.
public struct AlertLogFileError: Error, Sendable, CustomStringConvertible {
    public var path: String
    public var errno: Int32
    public var description: String { "\(path): \(String(cString: strerror(errno)))" }
}

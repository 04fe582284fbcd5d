import Foundation

/// One line of an alert-log file as read back, for recovery, `firewatch alerts` and chain checks.
public struct AlertLogLine: Sendable, Equatable {
    /// The file it came from.
    public var file: String
    /// 1-based line number within `file`.
    public var lineNumber: Int
    /// The line's text without `\n` (invalid UTF-8 shown as U+FFFD; `hash` is over the original bytes).
    public var raw: String
    /// Lowercase hex SHA-256 of the line's bytes: the `prev` the next line must carry.
    public var hash: String
    /// The members, when the line is a JSON object (member order is not kept); nil otherwise.
    public var fields: [String: JSONValue]?
    /// False for a last line without `\n` (a write cut short).
    public var isComplete: Bool

    /// The record's `seq`, if it has an integer one.
    public var seq: Int? { fields?["seq"]?.intValue }
    /// The record's `prev`, if it has one.
    public var prev: String? { fields?["prev"]?.stringValue }
    /// The record's `event`, if it has one.
    public var event: String? { fields?["event"]?.stringValue }
}

/// The outcome of `AlertLog.verifyChain`.
public enum ChainVerdict: Sendable, Equatable {
    /// Every line is a complete record, `seq` rises by one from line to line and each `prev` matches.
    case ok(count: Int)
    /// The first line where the chain breaks.
    case broken(ChainBreak)
}

/// Where and why a hash chain breaks.
public struct ChainBreak: Sendable, Equatable, CustomStringConvertible {
    /// The kinds of break `verifyChain` finds.
    public enum Reason: Sendable, Equatable {
        case notARecord
        case incompleteLine
        case missingSeq
        case missingPrev
        /// `seq` is not one more than the line before: lines missing (found > expected) or reordered/repeated.
        case seqGap(expected: Int, found: Int)
        /// `prev` is not the SHA-256 of the line before: that line was edited, or lines were removed/reordered.
        case prevMismatch(expected: String, found: String)
        case unreadable(String)
    }

    public var file: String
    public var lineNumber: Int
    public var reason: Reason
    /// Records that verified before this one.
    public var verifiedBefore: Int

    public var description: String {
        let at = "\(file):\(lineNumber)"
        switch reason {
        case .notARecord: return "\(at): not a JSON object; the line was damaged or written by something else"
        case .incompleteLine: return "\(at): the last line has no newline; a write was cut short"
        case .missingSeq: return "\(at): the record has no integer seq"
        case .missingPrev: return "\(at): the record has no prev hash"
        case .seqGap(let expected, let found):
            return found > expected
                ? "\(at): seq \(found) where \(expected) was expected; \(found - expected) record(s) missing"
                : "\(at): seq \(found) where \(expected) was expected; records repeated or out of order"
        case .prevMismatch(let expected, let found):
            return "\(at): prev \(found) does not match the previous line's sha256 \(expected); "
                + "the previous line was altered, or lines were removed or reordered"
        case .unreadable(let why): return "\(file): cannot read: \(why)"
        }
    }
}

/// Reading the alert log back: recovery on start, `firewatch alerts`, `firewatch alerts verify`.
public enum AlertLog {
    /// The files of the log at `path` that exist, oldest first: `<path>.N` … `<path>.1`, then `<path>`.
    public static func files(forLogAt path: String) -> [String] {
        let fm = FileManager.default
        var rotated: [(Int, String)] = []
        let dir = (path as NSString).deletingLastPathComponent
        let base = (path as NSString).lastPathComponent
        let names = (try? fm.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir)) ?? []
        for name in names where name.hasPrefix(base + ".") {
            // Spelled from `path` itself so callers get back the paths they would build.
            if let k = Int(name.dropFirst(base.count + 1)), k > 0 { rotated.append((k, "\(path).\(k)")) }
        }
        var files = rotated.sorted { $0.0 > $1.0 }.map(\.1)
        if fm.fileExists(atPath: path) { files.append(path) }
        return files
    }

    /// Every line of one file, in order.
    public static func readLines(ofFile file: String) throws -> [AlertLogLine] {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw AlertLogError(
                code: .read, path: file, message: "cannot read \(file)",
                hint: "check that the file exists and is readable (pass --log to name another)")
        }
        let bytes = [UInt8](data)
        var lines: [AlertLogLine] = []
        var start = 0
        var number = 0
        let decoder = JSONDecoder()
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: 0x0A) ?? bytes.count
            let slice = bytes[start..<end]
            number += 1
            var fields: [String: JSONValue]?
            if let value = try? decoder.decode(JSONValue.self, from: Data(slice)), case .object(let members) = value {
                fields = Dictionary(members.map { ($0.key, $0.value) }, uniquingKeysWith: { first, _ in first })
            }
            lines.append(
                AlertLogLine(
                    file: file, lineNumber: number, raw: String(decoding: slice, as: UTF8.self),
                    hash: AlertLogWriter.sha256Hex(slice), fields: fields, isComplete: end < bytes.count))
            start = end + 1
        }
        return lines
    }

    /// Every line of the log at `path` across rotated files, oldest first.
    public static func readRecords(_ path: String) throws -> [AlertLogLine] {
        try files(forLogAt: path).flatMap { try readLines(ofFile: $0) }
    }

    /// Checks the chain through `files` (oldest first), continuing from one file into the next.
    ///
    /// The first line's `prev` is not checked: it chains to a rotated file that may have been deleted
    /// (it is 64 zeros for a fresh log).
    public static func verifyChain(_ files: [String]) -> ChainVerdict {
        var count = 0
        var previous: AlertLogLine?
        for file in files {
            let lines: [AlertLogLine]
            do { lines = try readLines(ofFile: file) } catch {
                return .broken(
                    ChainBreak(file: file, lineNumber: 0, reason: .unreadable("\(error)"), verifiedBefore: count))
            }
            for line in lines {
                func broken(_ reason: ChainBreak.Reason) -> ChainVerdict {
                    .broken(ChainBreak(file: file, lineNumber: line.lineNumber, reason: reason, verifiedBefore: count))
                }
                guard line.isComplete else { return broken(.incompleteLine) }
                guard line.fields != nil else { return broken(.notARecord) }
                guard let seq = line.seq else { return broken(.missingSeq) }
                guard let prev = line.prev else { return broken(.missingPrev) }
                if let previous, let previousSeq = previous.seq {
                    if seq != previousSeq + 1 { return broken(.seqGap(expected: previousSeq + 1, found: seq)) }
                    if prev != previous.hash { return broken(.prevMismatch(expected: previous.hash, found: prev)) }
                }
                count += 1
                previous = line
            }
        }
        return .ok(count: count)
    }

    /// Checks the chain of the log at `path` across its rotated files.
    public static func verifyChain(logAt path: String) -> ChainVerdict {
        verifyChain(files(forLogAt: path))
    }
}

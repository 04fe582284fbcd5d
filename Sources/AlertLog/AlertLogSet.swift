#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif
import Foundation

/// The live alert log and the files rotated away from it, named logrotate-style:
/// `NAME.1` is the most recent rotated file, `NAME.k` the oldest kept.
///
/// The one listing of a log's files: recovery on start and `firewatch alerts` (and `verify`) read the same set,
/// so a file missing between two kept ones (a deletion) is seen by both and never skipped silently.
public struct AlertLogSet: Sendable, Hashable {
    /// The file the daemon appends to.
    public var livePath: String
    /// Rotated files that exist, most recent first (`NAME.1`, `NAME.2`, …, with any missing number left out).
    public var rotatedPaths: [String]
    /// Numbers between 1 and the oldest kept file that have no file: rotated files someone deleted.
    public var missingNumbers: [Int]

    public init(livePath: String, rotatedPaths: [String], missingNumbers: [Int] = []) {
        self.livePath = livePath
        self.rotatedPaths = rotatedPaths
        self.missingNumbers = missingNumbers
    }

    /// Lists every `NAME.N` (N > 0) next to `livePath`, and the numbers missing between them.
    public static func discover(livePath: String) -> AlertLogSet {
        let dir = (livePath as NSString).deletingLastPathComponent
        let base = (livePath as NSString).lastPathComponent
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.isEmpty ? "." : dir)) ?? []
        var numbers: Set<Int> = []
        for name in names where name.hasPrefix(base + ".") {
            // Only plain numbers: `NAME.1.gz` or `NAME.01` are not files this writer made.
            let suffix = name.dropFirst(base.count + 1)
            if let k = Int(suffix), k > 0, String(k) == suffix { numbers.insert(k) }
        }
        let newestFirst = numbers.sorted()
        let missing = (1..<((newestFirst.last ?? 0) + 1)).filter { !numbers.contains($0) }
        // Spelled from `livePath` itself so callers get back the paths they would build.
        return AlertLogSet(
            livePath: livePath, rotatedPaths: newestFirst.map { "\(livePath).\($0)" }, missingNumbers: missing)
    }

    /// Every file, oldest first and the live file last: the order records were written in.
    public var pathsOldestFirst: [String] { rotatedPaths.reversed() + [livePath] }

    /// The files of `pathsOldestFirst` that exist now (the live file may not yet).
    public var existingPathsOldestFirst: [String] {
        pathsOldestFirst.filter { access($0, F_OK) == 0 }
    }

    /// The deleted files just before `path` (newer files come after older ones), e.g. `NAME.2` before `NAME.1`
    /// when `NAME.3` is kept: what makes the chain into `path` uncheckable.
    public func missingPaths(before path: String) -> [String] {
        let number = path == livePath ? 0 : Int(path.dropFirst(livePath.count + 1)) ?? 0
        let older = rotatedPaths.compactMap { Int($0.dropFirst(livePath.count + 1)) }.filter { $0 > number }.min()
        guard let older else { return [] }
        return missingNumbers.filter { $0 > number && $0 < older }.sorted(by: >).map { "\(livePath).\($0)" }
    }

    /// Every line of every existing file, oldest first, each with its file, line number and whether it ended in
    /// `\n`. Reads whole files: for tests, benchmarks and small logs; the query tools stream instead.
    public func readLines() throws -> [AlertLine] {
        try existingPathsOldestFirst.flatMap { try AlertLine.lines(ofFile: $0) }
    }
}

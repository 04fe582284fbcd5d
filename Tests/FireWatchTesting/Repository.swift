import Foundation

/// Where the checkout is, and the `firewatch` executable built in it.
public enum Repository {
    /// The package root: two folders above this file (`Tests/FireWatchTesting/`).
    public static let root: String = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// `path` inside the checkout.
    public static func file(_ path: String) -> String { root + "/" + path }
}

/// The `firewatch` executable of this build: `FIREWATCH_EXECUTABLE` when set, else beside the test binary (so a
/// test never runs a stale binary of another build folder), else under `.build/debug`. A test that needs it calls
/// `required()`, which fails the test loudly, naming every place it looked: a missing binary is never a silent skip.
public enum FirewatchExecutable {
    public static let variable = "FIREWATCH_EXECUTABLE"

    /// Where it is looked for, in order.
    public static let candidates: [String] = {
        var candidates: [String] = []
        if let given = ProcessInfo.processInfo.environment[variable], !given.isEmpty { candidates.append(given) }
        // The test runner is .build/<triple>/debug/FireWatchPackageTests.xctest; `firewatch` is its sibling.
        if let runner = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            candidates.append((runner as NSString).deletingLastPathComponent + "/firewatch")
        }
        let bundleFolder = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        candidates.append(bundleFolder.appendingPathComponent("firewatch").path)
        candidates.append(Repository.file(".build/debug/firewatch"))
        return candidates
    }()

    public static let path: String? = candidates.first { FileManager.default.isExecutableFile(atPath: $0) }

    public static var missing: String {
        "the firewatch executable is missing (looked at \(candidates.joined(separator: ", "))): build it with "
            + "`swift build --build-tests` (make test does) or name it in \(variable)"
    }

    /// The executable, or an error that fails the test.
    public static func required() throws -> String {
        guard let path else { throw MissingExecutable() }
        return path
    }

    public struct MissingExecutable: Error, CustomStringConvertible {
        public var description: String { FirewatchExecutable.missing }
    }
}

/// Why an alert-log tool stopped, with the exit code the CLI returns (see CONTRACT.md) and what to do.
public struct AlertReadError: Error, Sendable, CustomStringConvertible {
    /// The kind of failure; it decides the exit code.
    public enum Code: Sendable, Hashable {
        /// The log file is not there (exit 66, EX_NOINPUT).
        case logMissing
        /// A broken, missing or reordered line (exit 65).
        case badData
        /// The site file given by `--config` cannot be used (exit 78).
        case badConfig
        /// Options that do not go together (exit 64).
        case usage
        /// Reading failed for another reason (exit 1).
        case io
    }

    public var code: Code
    /// What went wrong, naming file:line where there is one.
    public var message: String
    /// What to do about it.
    public var hint: String?

    public init(_ code: Code, _ message: String, hint: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
    }

    /// The process exit status for this error.
    public var exitCode: Int32 {
        switch code {
        case .logMissing: return 66
        case .badData: return 65
        case .badConfig: return 78
        case .usage: return 64
        case .io: return 1
        }
    }

    public var description: String { hint.map { "\(message)\n  hint: \($0)" } ?? message }
}

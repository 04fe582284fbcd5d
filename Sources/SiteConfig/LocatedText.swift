/// A text from a configuration file with where it was written, for settings FireWatch's loader
/// passes through to another part (the simulator's `simulate:` texts), so that part can still name
/// file, line and field in its own errors.
public struct LocatedText: Sendable, Hashable, CustomStringConvertible {
    public var text: String
    public var file: String
    public var line: Int
    public var column: Int
    /// Dotted field path, e.g. `points.temperature.simulate`.
    public var field: String

    public init(text: String, file: String, line: Int, column: Int, field: String) {
        self.text = text
        self.file = file
        self.line = line
        self.column = column
        self.field = field
    }

    public var description: String { text }

    /// An error about this text, in the loader's format.
    public func error(_ message: String, hint: String) -> ConfigError {
        ConfigError(file: file, line: line, column: column, field: field, message: message, hint: hint)
    }
}

extension Located {
    /// A scalar as a `LocatedText` (any scalar: `simulate: const 230` and `strings: 4` alike).
    func locatedText(what: String) -> LocatedText? {
        guard let text = string(what: what) else { return nil }
        return LocatedText(text: text, file: file, line: line, column: column, field: field)
    }

    /// A mapping of names to scalars, passed through as texts.
    func locatedTexts(what: String) -> [String: LocatedText] {
        var result: [String: LocatedText] = [:]
        for (key, _, value) in entries(what: "a mapping of \(what)") ?? [] {
            if let text = value.locatedText(what: what) { result[key] = text }
        }
        return result
    }
}

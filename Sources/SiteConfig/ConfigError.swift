/// One problem found in a site file or a device profile, pointing at the exact place to fix.
///
/// Printed as `file:line:column: error: field: message (hint)`, the shape compilers use, so editors
/// and CI annotate the line.
public struct ConfigError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The file the problem is in (as given to the loader, or the resolved profile path).
    public var file: String
    /// 1-based line, 0 when the problem concerns the whole file.
    public var line: Int
    /// 1-based column, 0 when the problem concerns the whole file.
    public var column: Int
    /// Dotted path of the field, e.g. `zones.battery-room-a.signals.temperature.vote`; empty for the file.
    public var field: String
    /// What is wrong and what was expected.
    public var message: String
    /// What to do about it, including "did you mean" suggestions.
    public var hint: String?

    public init(file: String, line: Int, column: Int, field: String, message: String, hint: String? = nil) {
        self.file = file
        self.line = line
        self.column = column
        self.field = field
        self.message = message
        self.hint = hint
    }

    public var description: String {
        // A problem with the whole file (not found, empty, too big) has no position to print.
        var text = line > 0 ? "\(file):\(line):\(column): error: " : "\(file): error: "
        if !field.isEmpty { text += "\(field): " }
        text += message
        if let hint { text += " (\(hint))" }
        return text
    }
}

/// Every problem found while loading, in file order. Loading never stops at the first one, so a
/// person fixes a whole file in one pass.
public struct ConfigErrors: Error, Sendable, Hashable, CustomStringConvertible {
    public var errors: [ConfigError]

    public init(_ errors: [ConfigError]) { self.errors = errors }

    public var description: String { errors.map(\.description).joined(separator: "\n") }
}

/// Collects errors while a file is read; used on one thread only, during one load.
package final class Diagnostics {
    package init() {}

    package private(set) var errors: [ConfigError] = []

    package func add(_ error: ConfigError) {
        // Aliased YAML nodes can be visited twice; one report per place is enough.
        if !errors.contains(error) { errors.append(error) }
    }

    package func add(file: String, line: Int, column: Int, field: String, _ message: String, hint: String? = nil) {
        add(ConfigError(file: file, line: line, column: column, field: field, message: message, hint: hint))
    }

    package var isEmpty: Bool { errors.isEmpty }
    package var count: Int { errors.count }

    /// Errors sorted by file, then position, keeping discovery order for ties.
    package var sorted: [ConfigError] {
        errors.enumerated().sorted { lhs, rhs in
            let a = lhs.element, b = rhs.element
            if a.file != b.file { return a.file < b.file }
            if a.line != b.line { return a.line < b.line }
            if a.column != b.column { return a.column < b.column }
            return lhs.offset < rhs.offset
        }.map(\.element)
    }
}

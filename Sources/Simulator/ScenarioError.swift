/// A mistake in a scenario file, said the way a user can fix it: `file:line: field: problem; hint`.
public struct ScenarioError: Error, Sendable, Hashable, CustomStringConvertible {
    public var file: String
    /// 1-based; 0 when the problem is the file as a whole.
    public var line: Int
    /// The field the problem is in, as a path (`timeline[2].offgas.string`).
    public var field: String
    public var problem: String
    /// What to do about it.
    public var hint: String

    public init(file: String, line: Int, field: String, problem: String, hint: String) {
        self.file = file
        self.line = line
        self.field = field
        self.problem = problem
        self.hint = hint
    }

    public var description: String {
        let place = line > 0 ? "\(file):\(line)" : file
        let what = field.isEmpty ? "" : " \(field):"
        return "\(place):\(what) \(problem); \(hint)"
    }
}

extension Orchestrator {
    /// Sections that need pieces not yet on main (engine, daemon).
    func extraSections() throws -> [String] { [] }
}

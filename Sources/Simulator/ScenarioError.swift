import SiteConfig

/// A mistake in a scenario file. Scenario files are read like site files and their mistakes are said the same
/// way, `file:line:column: error: field: message (hint)`, by the one error type every file FireWatch reads uses.
public typealias ScenarioError = ConfigError

import Simulator
import SiteConfig

/// The verdict on one expectation.
public struct ExpectationResult: Sendable, Hashable, CustomStringConvertible {
    public var expectation: ExpectedOutcome
    public var passed: Bool
    /// Why, in words: what was seen and when.
    public var detail: String
    /// The scenario line, when known.
    public var line: Int

    public var description: String { "\(passed ? "PASS" : "FAIL") \(expectation) — \(detail)" }
}

/// Judges expectations against what was observed.
///
/// Zone state names belong to the engine. When the engine's escalation order is given, "reaches S"
/// is also met by a state further along it (a zone that jumps from alert to suppressing has reached
/// isolated's tier), and "never reaches S" is broken by one; without it names must match exactly.
public struct ExpectationEvaluator: Sendable {
    /// Zone states from least to most severe, or nil for exact names.
    public var escalation: [String]?
    /// The state every zone starts in.
    public var initialState: String

    public init(escalation: [String]? = nil, initialState: String = "normal") {
        self.escalation = escalation
        self.initialState = initialState
    }

    public func evaluate(_ expectations: [ScenarioExpectation], against observations: [Observation])
        -> [ExpectationResult]
    {
        expectations.map { item in
            var result = evaluate(item.expectation, against: observations)
            result.line = item.line
            return result
        }
    }

    public func evaluate(_ expectation: ExpectedOutcome, against observations: [Observation]) -> ExpectationResult {
        // Time order, file order within a time: the runner may hand them over merged from several sources.
        let ordered = observations.enumerated().sorted { ($0.element.at, $0.offset) < ($1.element.at, $1.offset) }
            .map(\.element)
        func verdict(_ passed: Bool, _ detail: String) -> ExpectationResult {
            ExpectationResult(expectation: expectation, passed: passed, detail: detail, line: 0)
        }
        func states(of zone: String) -> [(Duration, String)] {
            ordered.compactMap {
                if case .zoneState(zone, let state) = $0.kind { return ($0.at, state) }
                return nil
            }
        }
        func writes(_ target: WriteTarget) -> [Observation] {
            ordered.filter {
                if case .write(let device, let command) = $0.kind {
                    return target.matches(device: device, command: command)
                }
                return false
            }
        }
        func troubles(_ device: String) -> [Observation] {
            ordered.filter {
                if case .trouble(device, _) = $0.kind { return true }
                return false
            }
        }
        func window(_ first: Duration?, after: Duration?, by: Duration?, what: String) -> ExpectationResult {
            guard let first else { return verdict(false, "\(what) never happened") }
            let at = DurationText.format(first)
            if let after, first < after {
                return verdict(false, "\(what) at \(at), before \(DurationText.format(after))")
            }
            if let by, first > by { return verdict(false, "\(what) only at \(at), after \(DurationText.format(by))") }
            return verdict(true, "\(what) at \(at)")
        }

        switch expectation {
        case .zoneReaches(let zone, let state, let after, let by):
            let first = states(of: zone).first { reaches($0.1, state) }
            return window(first?.0, after: after, by: by, what: "\(zone) \(first?.1 ?? state)")
        case .zoneNeverReaches(let zone, let state):
            if let hit = states(of: zone).first(where: { reaches($0.1, state) }) {
                return verdict(false, "\(zone) reached \(hit.1) at \(DurationText.format(hit.0))")
            }
            return verdict(true, "\(zone) never reached \(state)")
        case .zoneStays(let zone, let state):
            if initialState != state, states(of: zone).first?.0 != .zero {
                return verdict(false, "\(zone) starts \(initialState)")
            }
            if let other = states(of: zone).first(where: { $0.1 != state }) {
                return verdict(false, "\(zone) went \(other.1) at \(DurationText.format(other.0))")
            }
            return verdict(true, "\(zone) stayed \(state)")
        case .writes(let target, let after, let by):
            return window(writes(target).first?.at, after: after, by: by, what: "write to \(target)")
        case .writeOrder(let target, let earlier):
            let laterIndex = ordered.firstIndex {
                if case .write(let d, let c) = $0.kind { return target.matches(device: d, command: c) }
                return false
            }
            let earlierIndex = ordered.firstIndex {
                if case .write(let d, let c) = $0.kind { return earlier.matches(device: d, command: c) }
                return false
            }
            guard let earlierIndex else { return verdict(false, "no write to \(earlier)") }
            guard let laterIndex else { return verdict(false, "no write to \(target)") }
            let times =
                "\(target) at \(DurationText.format(ordered[laterIndex].at)), "
                + "\(earlier) at \(DurationText.format(ordered[earlierIndex].at))"
            return verdict(laterIndex > earlierIndex, times)
        case .writeGap(let target, let earlier, let gap):
            guard let first = writes(earlier).first else { return verdict(false, "no write to \(earlier)") }
            guard let later = writes(target).first else { return verdict(false, "no write to \(target)") }
            let took = later.at - first.at
            return verdict(
                took >= gap,
                "\(target) at \(DurationText.format(later.at)), \(DurationText.format(took)) after \(earlier) "
                    + "at \(DurationText.format(first.at))")
        case .noWrites(let target):
            if let write = writes(target).first {
                return verdict(false, "written at \(DurationText.format(write.at)): \(write)")
            }
            return verdict(true, "no write to \(target)")
        case .trouble(let device, let by):
            return window(troubles(device).first?.at, after: nil, by: by, what: "trouble on \(device)")
        case .noTrouble(let device):
            if let first = troubles(device).first {
                return verdict(false, "trouble at \(DurationText.format(first.at)): \(first)")
            }
            return verdict(true, "no trouble on \(device)")
        }
    }

    /// Whether being in `observed` means having reached `wanted`.
    func reaches(_ observed: String, _ wanted: String) -> Bool {
        if observed == wanted { return true }
        guard let escalation, let have = escalation.firstIndex(of: observed),
            let want = escalation.firstIndex(of: wanted)
        else { return false }
        return have >= want
    }
}

extension Scenario {
    /// Judges this scenario's expectations against a run's observations, each result with its line.
    public func evaluate(_ observations: [Observation], with evaluator: ExpectationEvaluator = ExpectationEvaluator())
        -> [ExpectationResult]
    {
        evaluator.evaluate(expectations, against: observations)
    }
}

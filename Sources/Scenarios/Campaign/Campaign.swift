import FireSafety
import Simulator
import SiteConfig

/// A fault campaign: many randomized incidents and quiet days played in process (`CampaignRunner`), every
/// invariant checked on every run, and the figures a fire-protection engineer asks for.
public struct Campaign: Sendable {
    public var incidents: Int
    public var quietDays: Int
    public var seed: UInt64
    public var jobs: Int

    public init(incidents: Int, quietDays: Int, seed: UInt64, jobs: Int = 1) {
        self.incidents = incidents
        self.quietDays = quietDays
        self.seed = seed
        self.jobs = max(1, jobs)
    }

    /// The seed of run `index`: incidents first, then quiet days. Any one run replays from its seed alone.
    public func runSeed(_ index: Int) -> UInt64 {
        var mix = SplitMix64(seed: seed &+ UInt64(index) &* 0x2545_F491_4F6C_DD1D)
        return mix.next()
    }

    /// Plays every run (in `jobs` parallel lanes), shrinks each run that broke a rule, and sums the figures.
    /// `progress` hears of each broken rule as it is found, before the (slow) shrinking.
    public func run(
        _ runner: CampaignRunner, progress: @escaping @Sendable (String) -> Void = { _ in }, clock: () -> Duration
    ) async -> CampaignReport {
        let generator = runner.generator()
        let began = clock()
        let total = incidents + quietDays
        let all = await withTaskGroup(of: [CampaignRunResult].self) { group in
            for lane in 0..<jobs {
                group.addTask {
                    var mine: [CampaignRunResult] = []
                    for index in stride(from: lane, to: total, by: jobs) {
                        let seed = runSeed(index)
                        let plan = index < incidents ? generator.incident(seed: seed) : generator.quiet(seed: seed)
                        mine.append(Self.play(plan, runner, progress: progress))
                    }
                    return mine
                }
            }
            var all: [CampaignRunResult] = []
            for await lane in group { all += lane }
            return all.sorted { $0.plan.seed < $1.plan.seed }
        }
        return CampaignReport(
            campaign: self, results: all, zones: runner.site.model.zones.count, wall: clock() - began)
    }

    /// One run, its figures, and, when it broke a rule, the shortest event list that still breaks it.
    static func play(
        _ plan: CampaignPlan, _ runner: CampaignRunner, progress: @Sendable (String) -> Void = { _ in }
    ) -> CampaignRunResult {
        let trace: CampaignTrace
        do {
            trace = try runner.run(plan)
        } catch {
            // Plans are drawn from the site's own zones, devices and strings; a refusal is a campaign defect.
            var refused = CampaignRunResult(plan: plan, trace: CampaignTrace(), runner: runner)
            refused.setupProblem = error.description
            return refused
        }
        var result = CampaignRunResult(plan: plan, trace: trace, runner: runner)
        if let first = trace.violations.first {
            progress("seed \(plan.seed) broke \(first); shrinking its \(plan.events.count) events")
            result.shrunk = shrink(plan, breaking: first.invariant, runner)
        }
        return result
    }

    /// Drops events one at a time while the run still breaks `invariant` (greedy delta debugging, bounded).
    static func shrink(_ plan: CampaignPlan, breaking invariant: CampaignInvariant, _ runner: CampaignRunner)
        -> CampaignPlan
    {
        shrink(plan) { candidate in
            let trace = try? runner.run(candidate, stopAtViolation: true)
            return trace?.violations.contains { $0.invariant == invariant } ?? false
        }
    }

    /// The shortest sublist of `plan`'s events found for which `breaks` still holds.
    static func shrink(_ plan: CampaignPlan, while breaks: (CampaignPlan) -> Bool) -> CampaignPlan {
        var kept = Array(plan.events.indices)
        for _ in 0..<3 {
            var changed = false
            var position = kept.count - 1
            while position >= 0 {
                var fewer = kept
                fewer.remove(at: position)
                if breaks(plan.keeping(fewer)) {
                    kept = fewer
                    changed = true
                }
                position -= 1
            }
            if !changed { break }
        }
        return plan.keeping(kept)
    }
}

extension CampaignTrace {
    /// The run as it happened: the plan's events, the zones' states and steps, every write and the model's own
    /// milestones, in time order.
    public func story(of plan: CampaignPlan) -> String {
        var lines: [(Duration, String)] = plan.events.map { ($0.at, "event: \($0.action)") }
        for (at, record) in records {
            switch record.event {
            case .zoneState, .stepStarted, .stepSucceeded, .stepFailed, .stepSkipped, .stepAborted, .stepResumed,
                .stepRetried, .operatorAck, .operatorReset, .operatorAbort, .operatorResume, .operatorInhibit,
                .operatorEnable, .signalLevel, .deviceCommLost, .deviceCommRestored:
                lines.append((at, "log:   \(record.event.rawValue) \(record.zone ?? "") \(record.message)"))
            default: continue
            }
        }
        for write in writes { lines.append((write.at, "write: \(write.device).\(write.command) for \(write.zone)")) }
        for event in modelEvents where event.kind != .effectApplied { lines.append((event.at, "model: \(event)")) }
        for violation in violations { lines.append((violation.at, "BROKEN: \(violation)")) }
        return lines.enumerated().sorted { ($0.element.0, $0.offset) < ($1.element.0, $1.offset) }
            .map { "\(DurationText.format($0.element.0).padding(toLength: 9, withPad: " ", startingAt: 0)) \($0.element.1)" }
            .joined(separator: "\n")
    }
}

/// One run's outcome, as the figures need it.
public struct CampaignRunResult: Sendable {
    public var plan: CampaignPlan
    public var violations: [CampaignViolation]
    public var shrunk: CampaignPlan?
    /// Why the simulator refused the plan (never expected: plans use the site's own names).
    public var setupProblem: String?
    /// Incidents: whether the model gave the daemon a poll interval plus the isolate steps before the point of no
    /// return, whether the string ran away, and first off-gas → zone isolated.
    public var eligible = false
    public var ranAway = false
    public var offgasToIsolated: Duration?
    /// Eligible incidents that ran away all the same: what in the run could have kept the zone from isolating in
    /// time (empty when nothing did: a defect to chase).
    public var missCauses: [MissCause] = []
    /// Quiet days: isolations (and those with fewer than two sources at alarm), releases, power cuts.
    public var isolations = 0
    public var isolationsOnOneSource = 0
    public var releases = 0
    public var powerCuts = 0
    public var simulated: Duration

    init(plan: CampaignPlan, trace: CampaignTrace, runner: CampaignRunner) {
        self.plan = plan
        violations = trace.violations
        simulated = trace.end
        switch plan.kind {
        case .incident(let zone, _):
            let venting = trace.modelEvents.first { $0.zone == zone && $0.kind == .ventingStarted }?.at
            ranAway = trace.modelEvents.contains { $0.zone == zone && $0.kind == .runaway }
            if case .site(.offgas(_, _, let pointOfNoReturn?, _))? = plan.events.first(where: {
                if case .site(.offgas) = $0.action { return true } else { return false }
            })?.action {
                eligible = pointOfNoReturn >= runner.site.model.pollInterval + runner.isolateTime(of: zone)
            }
            if let venting, let isolated = trace.firstTime(zone, reaches: .isolated), isolated >= venting {
                offgasToIsolated = isolated - venting
            }
            if eligible, ranAway, let venting, case .site(.offgas(_, _, let pointOfNoReturn?, _))? = plan.events.first(where: {
                if case .site(.offgas) = $0.action { return true } else { return false }
            })?.action {
                missCauses = MissCause.causes(
                    in: plan, trace: trace, zone: zone, window: venting...(venting + pointOfNoReturn), runner: runner)
            }
        case .quiet:
            isolations = trace.starts(of: .isolate).count
            isolationsOnOneSource = trace.isolationSources.filter { $0 < 2 }.count
            powerCuts = trace.starts(of: .powerCut).count
            releases = trace.releases
        }
    }
}

/// What in an incident run could have kept its zone from isolating between the first venting and the string's
/// point of no return. A miss with none of these is unexplained: a defect.
public enum MissCause: Sendable, Hashable, CustomStringConvertible {
    /// An operator's inhibit, accepted, held actuation in the zone during the window (isolation waits for it).
    case inhibited
    /// The daemon was killed during the window (it restores, but polls nothing while down).
    case restart
    /// A device the zone's signals read or its isolate steps command did not answer, answered late or with
    /// exceptions during the window.
    case device(String, String)
    /// A sensor fault (stuck, offline, drifting, noisy, out of range) on a point the zone's signals read.
    case sensor(String, String)

    /// The kind, for counting: inhibited, restart, device, sensor.
    public var kind: String {
        switch self {
        case .inhibited: "inhibited"
        case .restart: "restart"
        case .device: "device fault"
        case .sensor: "sensor fault"
        }
    }

    public var description: String {
        switch self {
        case .inhibited: "inhibited"
        case .restart: "daemon restarted"
        case .device(let device, let fault): "\(device) \(fault)"
        case .sensor(let point, let mode): "\(point) \(mode)"
        }
    }

    static func causes(
        in plan: CampaignPlan, trace: CampaignTrace, zone: String, window: ClosedRange<Duration>, runner: CampaignRunner
    ) -> [MissCause] {
        guard let spec = runner.site.model.zones.first(where: { $0.name == zone }) else { return [] }
        let points = Set(spec.signals.flatMap(\.sources).map { "\($0.device).\($0.point)" })
        var devices = Set(spec.signals.flatMap(\.sources).map(\.device))
        for step in spec.isolate { if case .command(let device, _) = step { devices.insert(device) } }
        func overlaps(_ at: Duration, _ lasts: Duration?) -> Bool {
            at <= window.upperBound && (lasts.map { at + $0 >= window.lowerBound } ?? true)
        }
        var causes: [MissCause] = []
        // Accepted inhibits of the zone, each until its end or the next enable.
        let operatorRecords = trace.records.filter { $0.record.zone == zone && $0.record.outcome == "accepted" }
        for (index, entry) in operatorRecords.enumerated() where entry.record.event == .operatorInhibit {
            let until = entry.record.until.map { entry.at + ($0 - entry.record.time) } ?? trace.end
            let enabled = operatorRecords[(index + 1)...].first { $0.record.event == .operatorEnable }?.at ?? trace.end
            if entry.at <= window.upperBound && min(until, enabled) >= window.lowerBound {
                causes.append(.inhibited)
                break
            }
        }
        for event in plan.events {
            switch event.action {
            case .restart where window.contains(event.at):
                if !causes.contains(.restart) { causes.append(.restart) }
            case .site(.commLoss(let device, let lasts)) where devices.contains(device) && overlaps(event.at, lasts):
                causes.append(.device(device, "stopped answering"))
            case .site(.slowDevice(let device, let delay, let lasts))
            where devices.contains(device) && overlaps(event.at, lasts):
                causes.append(.device(device, "answered \(DurationText.format(delay)) late"))
            case .site(.exception(let device, let code, let lasts))
            where devices.contains(device) && overlaps(event.at, lasts):
                causes.append(.device(device, "answered \(code.rawValue)"))
            case .site(.sensorFault(let device, let point, let mode, let lasts)) where overlaps(event.at, lasts):
                let named = point.map { ["\(device).\($0)"] } ?? points.filter { $0.hasPrefix(device + ".") }.sorted()
                for name in named where points.contains(name) { causes.append(.sensor(name, "\(mode)")) }
            default: continue
            }
        }
        return causes
    }
}

/// What a campaign found: broken rules (with their shrunk reproductions) and the figures.
public struct CampaignReport: Sendable {
    public var campaign: Campaign
    public var results: [CampaignRunResult]
    public var zones: Int
    public var wall: Duration

    public var failures: [CampaignRunResult] { results.filter { !$0.violations.isEmpty || $0.setupProblem != nil } }
    var incidentResults: [CampaignRunResult] { results.filter { if case .incident = $0.plan.kind { true } else { false } } }
    var quietResults: [CampaignRunResult] { results.filter { $0.plan.kind == .quiet } }

    public var eligible: Int { incidentResults.filter(\.eligible).count }
    /// Eligible incidents whose string never ran away: isolated before the point of no return.
    public var isolatedBeforeRunaway: Int { incidentResults.filter { $0.eligible && !$0.ranAway }.count }
    public var runaways: Int { incidentResults.filter(\.ranAway).count }
    /// Seeds of incidents the model gave the time to isolate that ran away all the same (`--explain` replays one).
    public var missed: [UInt64] { incidentResults.filter { $0.eligible && $0.ranAway }.map(\.plan.seed) }
    /// The missed incidents by the first cause found in each ("unexplained" when none was).
    public var missedByCause: [(cause: String, seeds: [UInt64])] {
        let missed = incidentResults.filter { $0.eligible && $0.ranAway }
        let grouped = Dictionary(grouping: missed) { $0.missCauses.first?.kind ?? "unexplained" }
        return grouped.map { ($0.key, $0.value.map(\.plan.seed)) }.sorted { ($0.seeds.count, $1.cause) > ($1.seeds.count, $0.cause) }
    }
    /// Missed incidents with nothing in the run that explains them.
    public var missedUnexplained: [UInt64] { missedByCause.first { $0.cause == "unexplained" }?.seeds ?? [] }
    public var zoneYears: Double {
        quietResults.reduce(0) { $0 + $1.simulated / .seconds(1) } * Double(zones) / (365 * 86_400)
    }
    public var quietIsolations: Int { quietResults.reduce(0) { $0 + $1.isolations } }
    /// Quiet-day isolations with fewer than two of the zone's devices at alarm when they started (the goal is
    /// none: a fault on one sensor should not isolate a room).
    public var quietIsolationsOnOneSource: Int { quietResults.reduce(0) { $0 + $1.isolationsOnOneSource } }
    /// Quiet days that isolated (`--explain SEED --quiet` says why).
    public var quietIsolationSeeds: [UInt64] { quietResults.filter { $0.isolations > 0 }.map(\.plan.seed) }
    public var quietReleases: Int { quietResults.reduce(0) { $0 + $1.releases } }
    public var quietPowerCuts: Int { quietResults.reduce(0) { $0 + $1.powerCuts } }
    public var simulatedDays: Double { results.reduce(0) { $0 + $1.simulated / .seconds(1) } / 86_400 }

    /// First off-gas to isolated, p50 and p99, over the incidents that were isolated.
    public func offgasToIsolated(percentile: Double) -> Duration? {
        let times = incidentResults.compactMap(\.offgasToIsolated).sorted()
        guard !times.isEmpty else { return nil }
        let rank = Int((percentile / 100 * Double(times.count)).rounded(.up)) - 1
        return times[min(max(rank, 0), times.count - 1)]
    }

    /// The figures by name, for scripts and `make bench` (times in seconds).
    public var figures: [String: Double] {
        var figures: [String: Double] = [
            "seed": Double(campaign.seed), "incidents": Double(campaign.incidents),
            "quiet_days": Double(campaign.quietDays), "jobs": Double(campaign.jobs),
            "runs_broken": Double(failures.count), "eligible": Double(eligible),
            "isolated_before_runaway": Double(isolatedBeforeRunaway), "runaways": Double(runaways),
            "missed": Double(missed.count), "missed_unexplained": Double(missedUnexplained.count), "zone_years": zoneYears, "quiet_isolations": Double(quietIsolations),
            "quiet_isolations_one_source": Double(quietIsolationsOnOneSource),
            "quiet_releases": Double(quietReleases), "quiet_power_cuts": Double(quietPowerCuts),
            "simulated_days": simulatedDays, "wall_s": wall / .seconds(1),
            "simulated_days_per_s": simulatedDays / max(wall / .seconds(1), 0.001),
        ]
        for (cause, seeds) in missedByCause where cause != "unexplained" {
            figures["missed_" + cause.replacingOccurrences(of: " ", with: "_")] = Double(seeds.count)
        }
        if let p50 = offgasToIsolated(percentile: 50) { figures["offgas_to_isolated_p50_s"] = p50 / .seconds(1) }
        if let p99 = offgasToIsolated(percentile: 99) { figures["offgas_to_isolated_p99_s"] = p99 / .seconds(1) }
        return figures
    }

    /// The figures, one per line, for people.
    public var summary: String {
        func perZoneYear(_ count: Int) -> String {
            zoneYears > 0 ? "\(count) (\(rounded(Double(count) / zoneYears)) per zone-year)" : "\(count)"
        }
        func time(_ value: Duration?) -> String { value.map(DurationText.format) ?? "–" }
        var lines = [
            "campaign: seed \(campaign.seed), \(campaign.incidents) incidents, \(campaign.quietDays) quiet days, "
                + "\(campaign.jobs) job\(campaign.jobs == 1 ? "" : "s")",
            "invariants broken: \(failures.count) run\(failures.count == 1 ? "" : "s") of \(results.count)",
            "incidents isolated before runaway (of those the model gave a poll plus the isolate steps): "
                + "\(isolatedBeforeRunaway)/\(eligible)",
            "incidents that ran away (all): \(runaways)/\(incidentResults.count)"
                + (missed.isEmpty ? "" : "; given the time but ran away: \(missed.count)"),
        ]
        for (cause, seeds) in missedByCause {
            lines.append("  \(seeds.count) \(cause): seeds " + Self.list(seeds))
        }
        lines += [
            "first off-gas to isolated: p50 \(time(offgasToIsolated(percentile: 50))), "
                + "p99 \(time(offgasToIsolated(percentile: 99)))",
            "quiet days: \(rounded(zoneYears)) zone-years; isolations \(perZoneYear(quietIsolations)) "
                + "(\(quietIsolationsOnOneSource) with fewer than two devices at alarm), "
                + "releases \(perZoneYear(quietReleases)), power cuts \(perZoneYear(quietPowerCuts))"
                + (quietIsolationSeeds.isEmpty
                    ? "" : "; isolated on quiet days: seeds " + Self.list(quietIsolationSeeds)),
            "simulated \(rounded(simulatedDays)) days in \(DurationText.format(wall)): "
                + "\(rounded(simulatedDays / max(wall / .seconds(1), 0.001))) simulated days per second",
        ]
        for failure in failures {
            lines.append("")
            lines.append("BROKEN (seed \(failure.plan.seed)):")
            if let problem = failure.setupProblem { lines.append("  the simulator refused the run: \(problem)") }
            lines += failure.violations.prefix(5).map { "  \($0.invariant): \($0.invariant.description)\n    \($0)" }
            if let shrunk = failure.shrunk {
                lines.append("  shortest reproduction (\(shrunk.events.count) of \(failure.plan.events.count) events):")
                lines.append(shrunk.description.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
            }
        }
        return lines.joined(separator: "\n")
    }

    /// Seeds for `--explain`: the first ten, and how many more.
    static func list(_ seeds: [UInt64]) -> String {
        seeds.prefix(10).map(String.init).joined(separator: ", ")
            + (seeds.count > 10 ? " and \(seeds.count - 10) more" : "")
    }

    private func rounded(_ value: Double) -> String {
        let scaled = (value * 100).rounded() / 100
        return scaled == scaled.rounded() ? String(Int(scaled)) : String(scaled)
    }
}

import FireSafety
import Foundation
import Gateway
import Simulator
import SiteConfig

/// What both ways of playing an incident must agree on: the fast in-process runner and the real daemon and
/// simulator over Modbus/TCP on a compressed clock. The fast path is trusted because it is checked against the
/// real one.
public struct CampaignVerdict: Sendable, Hashable, CustomStringConvertible {
    /// The incident's zone reached `isolated`.
    public var isolated: Bool
    /// The failing string ran away in the model.
    public var ranAway: Bool
    /// The zone's agent was discharged.
    public var released: Bool
    /// The zone's power-cut procedure started.
    public var powerCut: Bool

    public var description: String {
        "isolated \(isolated), ran away \(ranAway), released \(released), power cut \(powerCut)"
    }
}

extension CampaignPlan {
    /// The plan as a scenario for `ScenarioRun` (the real daemon and simulator). Operator commands have no
    /// scenario form and are left out; a reload reloads `site`.
    public func scenario(site: String, speed: Double) -> Scenario {
        var timeline: [ScheduledEvent] = []
        for event in events {
            switch event.action {
            case .site(let happening): timeline.append(ScheduledEvent(at: event.at, event: happening))
            case .restart: timeline.append(ScheduledEvent(at: event.at, event: .restart))
            case .clockStep(let by): timeline.append(ScheduledEvent(at: event.at, event: .clockStep(by: by)))
            case .reload: timeline.append(ScheduledEvent(at: event.at, event: .reload(site: site)))
            case .command: continue
            }
        }
        return Scenario(
            name: "campaign-\(seed)", duration: duration, speed: speed, timeline: timeline, file: "<campaign seed \(seed)>")
    }

    /// The zone the incident is in; nil for a quiet run.
    public var incidentZone: String? {
        if case .incident(let zone, _) = kind { return zone }
        return nil
    }
}

extension CampaignTrace {
    /// The verdict on `zone` of an in-process run.
    public func verdict(zone: String) -> CampaignVerdict {
        CampaignVerdict(
            isolated: firstTime(zone, reaches: .isolated) != nil,
            ranAway: modelEvents.contains { $0.zone == zone && $0.kind == .runaway },
            released: modelEvents.contains { $0.zone == zone && $0.kind == .released },
            powerCut: !starts(of: .powerCut, in: zone).isEmpty)
    }

    /// How far from a different verdict the run was, in site time: between the disconnect taking effect and the
    /// string's point of no return (an hour when nothing was disconnected). Runs closer than a few polls can go
    /// either way between two ways of playing them (the real one polls on a real, jittery schedule), so a
    /// cross-check leaves them out.
    public func margin(of plan: CampaignPlan) -> Duration {
        guard let zone = plan.incidentZone,
            let venting = modelEvents.first(where: { $0.zone == zone && $0.kind == .ventingStarted })?.at,
            case .site(.offgas(_, _, let pointOfNoReturn?, _))? = plan.events.first(where: {
                if case .site(.offgas) = $0.action { true } else { false }
            })?.action
        else { return .seconds(3600) }
        let disconnected = modelEvents.first {
            guard $0.zone == zone, $0.kind == .effectApplied, let effect = $0.effect else { return false }
            if case .disconnectString = effect { return true }
            return effect == .disconnectStrings
        }?.at
        guard let disconnected else { return .seconds(3600) }
        let point = venting + pointOfNoReturn
        return point > disconnected ? point - disconnected : disconnected - point
    }
}

extension ScenarioReport {
    /// The verdict on `zone` of a real run.
    public func verdict(zone: String) -> CampaignVerdict {
        let model = events.compactMap { event -> ModelEvent? in
            if case .model(let happening) = event.kind { return happening }
            return nil
        }
        return CampaignVerdict(zone: zone, records: records, model: model, start: start, duration: scenario.duration)
    }
}

extension CampaignVerdict {
    /// The verdict on `zone` of a real run, from the daemon's alert log and the simulator's model events, over
    /// the scenario's `duration` from `start` (site time) only, as far as an in-process run plays: the simulator
    /// serves on for a grace period after it, and the daemon goes on acting on what it sees.
    public init(zone: String, records: [AlertRecord], model: [ModelEvent], start: Timestamp, duration: Duration) {
        let records = records.filter { $0.time <= start + duration }
        let mine = model.filter { $0.zone == zone && $0.at <= duration }
        self.init(
            isolated: records.contains { $0.event == .zoneState && $0.zone == zone && $0.to == ZoneState.isolated.rawValue },
            ranAway: mine.contains { $0.kind == .runaway },
            released: mine.contains { $0.kind == .released },
            powerCut: records.contains {
                $0.event == .stepStarted && $0.zone == zone && $0.procedure == .powerCut && $0.step == 0
            })
    }
}

/// The campaign's incidents played both ways, in process and by the real processes (`ProcessCampaignRun`), with
/// their verdicts compared: the same generator, the same seeds. Runs whose margin (`CampaignTrace.margin`) is
/// under `margin` are too close to call and are drawn past; wall-clock steps are taken out of every plan (the
/// processes cannot play them), and the generator's `forScenarios` leaves out operator commands.
public struct ProcessCrossCheck: Sendable {
    public var executable: String
    public var siteFile: String
    /// Incidents to compare.
    public var incidents: Int
    public var seed: UInt64
    public var speed: Double
    /// How far from a different verdict a run must be to be compared. A killed daemon is down for its start-up
    /// time (a few seconds of site time at 20x), which the in-process run does not have.
    public var margin: Duration = .seconds(30)
    /// Each run gets a folder here, removed when the verdicts agree and kept (and named) when not.
    public var directory: String

    public init(executable: String, siteFile: String, incidents: Int, seed: UInt64, speed: Double, directory: String) {
        self.executable = executable
        self.siteFile = siteFile
        self.incidents = incidents
        self.seed = seed
        self.speed = speed
        self.directory = directory
    }

    /// The plan of run `index`, as both ways play it.
    public func plan(_ index: Int, _ runner: CampaignRunner) -> CampaignPlan {
        var generator = runner.generator()
        generator.forScenarios = true
        generator.incidentDuration = .seconds(20 * 60)
        var plan = generator.incident(seed: Campaign(incidents: incidents, quietDays: 0, seed: seed).runSeed(index))
        plan.events.removeAll { if case .clockStep = $0.action { true } else { false } }
        return plan
    }

    /// Draws runs until `incidents` have been compared (at most 4 × `incidents` draws) and reports each as it goes.
    public func run(_ runner: CampaignRunner, progress: @Sendable (String) -> Void) async -> CrossCheckReport {
        var report = CrossCheckReport(campaign: self)
        let clock = ContinuousClock()
        let began = clock.now
        for index in 0..<(4 * incidents) where report.compared.count < incidents {
            let plan = plan(index, runner)
            guard let zone = plan.incidentZone else { continue }
            let trace: CampaignTrace
            do {
                trace = try runner.run(plan)
            } catch {
                report.problems.append("seed \(plan.seed): in process: \(error)")
                continue
            }
            if let violation = trace.violations.first {
                report.problems.append("seed \(plan.seed): in process: \(violation)")
                continue
            }
            guard trace.margin(of: plan) >= margin else {
                report.tooClose.append(plan.seed)
                continue
            }
            let folder = directory + "/seed-\(plan.seed)"
            let fast = trace.verdict(zone: zone)
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
                let real = try await ProcessCampaignRun(
                    executable: executable, siteFile: siteFile, plan: plan, speed: speed, directory: folder
                ).run()
                report.kills += real.kills
                report.reloads += real.reloads
                let compared = CrossCheckReport.Compared(
                    seed: plan.seed, inProcess: fast, real: real.verdict, folder: folder)
                report.compared.append(compared)
                progress(compared.line)
                if compared.agrees { try? FileManager.default.removeItem(atPath: folder) }
            } catch {
                report.problems.append("seed \(plan.seed): \(error)")
                progress("seed \(plan.seed): \(error)")
            }
        }
        report.wall = clock.now - began
        return report
    }
}

/// What a cross-check found.
public struct CrossCheckReport: Sendable {
    public struct Compared: Sendable {
        public var seed: UInt64
        public var inProcess: CampaignVerdict
        public var real: CampaignVerdict
        /// Where the run's site copy, scenario, alert log and outputs are (kept only when the verdicts differ).
        public var folder: String
        public var agrees: Bool { inProcess == real }

        public var line: String {
            agrees
                ? "seed \(seed): agree (\(real))"
                : "seed \(seed): DISAGREE: processes \(real); in process \(inProcess); kept in \(folder)"
        }
    }

    public var campaign: ProcessCrossCheck
    public var compared: [Compared] = []
    /// Seeds drawn past: within `margin` of a different verdict.
    public var tooClose: [UInt64] = []
    /// Runs that could not be played or broke a rule in process (a campaign reports those in full).
    public var problems: [String] = []
    public var kills = 0
    public var reloads = 0
    public var wall: Duration = .zero

    public var disagreements: [Compared] { compared.filter { !$0.agrees } }
    /// Whether every run asked for was compared and agreed, and nothing went wrong.
    public var passed: Bool {
        compared.count == campaign.incidents && disagreements.isEmpty && problems.isEmpty
    }

    public var figures: [String: Double] {
        [
            "seed": Double(campaign.seed), "speed": campaign.speed, "compared": Double(compared.count),
            "agreed": Double(compared.count - disagreements.count), "too_close": Double(tooClose.count),
            "problems": Double(problems.count), "kills": Double(kills), "reloads": Double(reloads),
            "isolated": Double(compared.filter(\.real.isolated).count),
            "ran_away": Double(compared.filter(\.real.ranAway).count),
            "released": Double(compared.filter(\.real.released).count),
            "wall_s": Double(wall.components.seconds),
        ]
    }

    public var summary: String {
        var lines = [
            "cross-check: seed \(campaign.seed), \(compared.count) incident\(compared.count == 1 ? "" : "s") played in process and as processes at "
                + "\(campaign.speed)x: \(compared.count - disagreements.count) agree, \(disagreements.count) disagree "
                + "(\(compared.filter(\.real.isolated).count) isolated, \(compared.filter(\.real.ranAway).count) "
                + "ran away, \(compared.filter(\.real.released).count) released); \(kills) kill -9, \(reloads) "
                + "SIGHUP; \(tooClose.count) drawn past as too close to call; "
                + "\(DurationText.format(.seconds(wall.components.seconds))) of real time"
        ]
        lines += disagreements.map(\.line)
        lines += problems
        if compared.count < campaign.incidents {
            lines.append("only \(compared.count) of \(campaign.incidents) incidents could be compared")
        }
        return lines.joined(separator: "\n")
    }
}

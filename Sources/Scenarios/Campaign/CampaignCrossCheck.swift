import FireSafety
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
            if case .model(let happening) = event.kind, happening.zone == zone { return happening }
            return nil
        }
        return CampaignVerdict(
            isolated: records.contains { $0.event == .zoneState && $0.zone == zone && $0.to == ZoneState.isolated.rawValue },
            ranAway: model.contains { $0.kind == .runaway },
            released: model.contains { $0.kind == .released },
            powerCut: records.contains {
                $0.event == .stepStarted && $0.zone == zone && $0.procedure == .powerCut && $0.step == 0
            })
    }
}

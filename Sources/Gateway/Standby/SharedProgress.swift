import FireSafety
import Foundation
import Logging
import Synchronization

/// What one zone's current incident has finished, as a gateway of the pair knows it: the value of
/// `/firewatch/<site>/progress/<zone>`, JSON.
public struct ZoneProgress: Codable, Sendable, Hashable {
    /// A finished step: how it ended, what its record said, and under whom.
    public struct Finished: Codable, Sendable, Hashable {
        public var outcome: String
        public var detail: String
        public var owner: String
        public var epoch: Int64
    }

    /// Who published this and under which epoch.
    public var owner: String
    public var epoch: Int64
    /// By step identity, `procedure/index` (`suppress/2`): the steps of the incident that finished.
    public var steps: [String: Finished]

    public init(owner: String, epoch: Int64, steps: [String: Finished] = [:]) {
        self.owner = owner
        self.epoch = epoch
        self.steps = steps
    }
}

/// The pair's shared procedure progress (issue 16): the owner publishes what each zone's incident has finished, and
/// every gateway follows what the others published, so a standby's engine walks the procedure in step with the
/// owner's instead of waiting at its first step, and a new owner continues from the next unfinished step.
///
/// - Published: from the records this gateway logs (`logged(_:)`): a step that `succeeded` or `failed` is added, the
///   incident's first step (`isolate/0` started) starts the zone afresh, the zone back to `normal` removes it. Only
///   the owner publishes, with a put (or delete) that holds only while the owner key still has its epoch: a former
///   owner's late publish is refused by etcd. The next step of a procedure starts once what the one before it
///   finished is published, or after at most `publishWait` (etcd slow or away: acting never waits longer).
/// - Followed: every tick the prefix is read; what another gateway published is kept (this gateway's own values are
///   not read back: they are what it knows already).
/// - Trusted only for what it proves: a step the other gateway finished is not performed again here (its record
///   says who did it); a step it did not report finished — started, or not heard of — is performed, reading first.
///   A `skipped` step is never taken as done.
public final class SharedProgress: Sendable {
    public let client: EtcdClient
    public let gateway: String
    public let prefix: String
    let ownerKey: String
    let logger: Logger

    /// This gateway's knowledge of each zone's incident (what it finished, and what it followed).
    private let known = Mutex<[String: [String: ZoneProgress.Finished]]>([:])
    /// Zones whose knowledge changed since it was last published, the epoch it was last published under, how many
    /// changes were logged and how many of them are published.
    private let unpublished = Mutex<(zones: Set<String>, epoch: Int64, logged: Int, published: Int)>(([], 0, 0, 0))
    /// What the other gateways published, by zone.
    private let followed = Mutex<[String: ZoneProgress]>([:])

    public init(client: EtcdClient, site: String, gateway: String, logger: Logger) {
        self.client = client
        self.gateway = gateway
        self.prefix = "/firewatch/\(site)/progress/"
        self.ownerKey = "/firewatch/\(site)/owner"
        self.logger = logger
    }

    static func stepKey(_ procedure: ProcedureKind, _ index: Int) -> String { "\(procedure.rawValue)/\(index)" }

    // MARK: - What this gateway logs

    /// Called with every record once it is in the alert log.
    public func logged(_ record: AlertRecord) {
        guard let zone = record.zone else { return }
        switch record.event {
        case .stepStarted where record.procedure == .isolate && record.step == 0:
            known.withLock { $0[zone] = [:] }
        case .stepSucceeded, .stepFailed:
            guard let procedure = record.procedure, let index = record.step else { return }
            let finished = ZoneProgress.Finished(
                outcome: record.event == .stepSucceeded ? StepOutcome.succeeded.rawValue : StepOutcome.failed.rawValue,
                detail: record.detail ?? record.message, owner: record.owner ?? gateway, epoch: record.epoch ?? 0)
            known.withLock { $0[zone, default: [:]][Self.stepKey(procedure, index)] = finished }
        case .zoneState where record.to == ZoneState.normal.rawValue:
            // What the other gateway published of the incident that ended is not carried into the next one.
            followed.withLock { _ = $0.removeValue(forKey: zone) }
            let had = known.withLock { $0.removeValue(forKey: zone) != nil }
            if !had { return }
        default:
            return
        }
        unpublished.withLock { state in
            state.zones.insert(zone)
            state.logged += 1
        }
    }

    /// How long the next step waits for the one before it to be published.
    public static let publishWait: Duration = .milliseconds(250)

    /// Waits until every change logged so far is published, for at most `limit`; whether it was.
    @discardableResult
    public func published(within limit: Duration = publishWait) async -> Bool {
        let target = unpublished.withLock { $0.logged }
        let deadline = ContinuousClock.now + limit
        while unpublished.withLock({ $0.published < target }) {
            if ContinuousClock.now >= deadline { return false }
            do { try await Task.sleep(for: .milliseconds(2)) } catch { return false }
        }
        return true
    }

    // MARK: - What the others did

    /// The step's end as another gateway of the pair published it, if it did.
    public func finishedElsewhere(zone: String, procedure: ProcedureKind, index: Int) -> ZoneProgress.Finished? {
        guard let finished = followed.withLock({ $0[zone]?.steps[Self.stepKey(procedure, index)] }),
            finished.outcome != StepOutcome.skipped.rawValue, finished.owner != gateway
        else { return nil }
        return finished
    }

    // MARK: - The exchange with etcd

    /// One exchange: as the owner (`epoch` non-nil), publish what changed (everything after a takeover); then read
    /// what the others published. Errors are logged and retried at the next tick.
    public func exchange(ownerEpoch epoch: Int64?, follow: Bool) async {
        if let epoch { await publish(epoch: epoch) }
        if follow { await self.follow() }
    }

    private func publish(epoch: Int64) async {
        let (zones, target) = unpublished.withLock { state -> (Set<String>, Int) in
            if state.epoch != epoch {
                // A new epoch: everything this gateway knows goes out under it.
                state.epoch = epoch
                state.zones.formUnion(known.withLock { Set($0.keys) })
            }
            return (state.zones, state.logged)
        }
        for zone in zones.sorted() {
            // Not known any more: the zone went back to normal, and its progress is deleted.
            let steps = known.withLock { $0[zone] }
            var value: String?
            if let steps {
                let progress = ZoneProgress(owner: gateway, epoch: epoch, steps: steps)
                let encoder = JSONEncoder()
                encoder.outputFormatting = .sortedKeys
                guard let data = try? encoder.encode(progress) else { continue }
                value = String(decoding: data, as: UTF8.self)
            }
            do {
                let done = try await client.change(
                    prefix + zone, to: value, whileKey: ownerKey, hasCreateRevision: epoch)
                if !done {
                    logger.info("progress not published: the lease has a newer owner", metadata: ["zone": "\(zone)"])
                    return
                }
                // Published, unless it changed again meanwhile (then the next exchange publishes that).
                unpublished.withLock { state in
                    if known.withLock({ $0[zone] }) == steps { state.zones.remove(zone) }
                }
            } catch {
                logger.debug("progress not published: \(error)", metadata: ["zone": "\(zone)"])
                return
            }
        }
        unpublished.withLock { $0.published = max($0.published, target) }
    }

    private func follow() async {
        let values: [EtcdKeyValue]
        do { values = try await client.get(prefix: prefix) } catch {
            logger.debug("progress not read: \(error)")
            return
        }
        var seen: [String: ZoneProgress] = [:]
        for value in values {
            let zone = String(value.key.dropFirst(prefix.count))
            guard let progress = try? JSONDecoder().decode(ZoneProgress.self, from: Data(value.value.utf8)) else {
                logger.warning("progress of \(zone) in etcd is not what a gateway writes; ignored", metadata: ["value": "\(value.value)"])
                continue
            }
            seen[zone] = progress
        }
        followed.withLock { followed in
            for (zone, progress) in seen where progress.owner != gateway { followed[zone] = progress }
            // A zone the owner removed (reset) is gone; one this gateway publishes now keeps what was followed.
            for zone in followed.keys where seen[zone] == nil { followed[zone] = nil }
        }
    }
}

import Foundation
import Logging
import ServiceLifecycle
import Synchronization

/// What a gateway of a hot-standby pair knows of who may act: the one view the gate, `status` and the metrics
/// read. Times are on the monotonic clock (`ContinuousClock`), never the wall clock: a stepped wall clock
/// changes no lease.
public struct StandbyRole: Sendable, Hashable {
    public enum Kind: String, Sendable, Hashable {
        /// This gateway holds the site's lease.
        case owner
        /// Another gateway holds it.
        case standby
        /// etcd has not answered since this gateway started: nobody known to hold the lease.
        case unknown
    }

    public var kind: Kind
    /// The gateway that holds the lease, as last seen (this one when `kind == .owner`).
    public var owner: String?
    /// The lease's epoch as last seen: the revision that created the owner key. Every owner has a higher one
    /// than the one before it.
    public var epoch: Int64
    /// Until when this gateway's lease is surely valid: the send time of the last keep-alive etcd answered, plus
    /// the TTL it answered with. Only for the owner.
    public var leaseValidUntil: ContinuousClock.Instant?
    /// When this gateway became owner (for the lease's age in `status`).
    public var ownerSince: ContinuousClock.Instant?
    /// The last time etcd answered; nil if it never did.
    public var lastContact: ContinuousClock.Instant?
    /// Why the last exchange with etcd failed; nil when it answered.
    public var etcdProblem: String?
    /// When this gateway started asking.
    public var started: ContinuousClock.Instant

    public static func initial(at now: ContinuousClock.Instant) -> StandbyRole {
        StandbyRole(kind: .unknown, owner: nil, epoch: 0, started: now)
    }
}

/// How the pair decides who writes, as a pure function of what the election knows: the rule the README's
/// failure table is read from.
///
/// - The owner writes while its lease is valid on its own monotonic clock, with `guard` to spare (a write that
///   starts must end before the lease could have lapsed at etcd).
/// - When etcd cannot be reached, the owner keeps acting: it cannot see a newer owner, and a fire during an etcd
///   outage must still be handled. It raises trouble (the daemon logs it) and marks what it does as acting
///   without a lease.
/// - A standby never writes: only a lease from etcd makes it owner. A former owner that sees a newer owner is a
///   standby from that moment, and never writes with its old epoch again.
/// - When etcd has not answered since the gateway started (both gateways restarted during an etcd outage),
///   the `primary` (the first of the site's `peers:`) acts alone after `unreachableGrace`, as a single gateway
///   would, and says so; the other waits for a lease. So an outage of etcd never leaves the site with nobody to
///   act, and never with two writers unless etcd is reachable from one gateway and not the other.
public struct LeasePolicy: Sendable, Hashable {
    public var gateway: String
    /// Whether this gateway is the pair's primary (first of `peers:`).
    public var primary: Bool
    /// A write is granted only with this much lease left.
    public var writeGuard: Duration
    /// How long a primary that never reached etcd waits before acting alone.
    public var unreachableGrace: Duration

    public init(gateway: String, primary: Bool, writeGuard: Duration, unreachableGrace: Duration) {
        self.gateway = gateway
        self.primary = primary
        self.writeGuard = writeGuard
        self.unreachableGrace = unreachableGrace
    }

    /// Whether this gateway may act now, and under which token.
    public func permit(_ role: StandbyRole, at now: ContinuousClock.Instant) -> ActuationPermit {
        switch role.kind {
        case .owner:
            let token = ActuationToken(owner: gateway, epoch: role.epoch)
            if let until = role.leaseValidUntil, now + writeGuard <= until { return .granted(token) }
            if role.etcdProblem != nil { return .granted(token) }
            // etcd answers but the lease was not renewed in time (the process was stopped, the machine stalled):
            // wait for the next renewal rather than write on a lease that may have lapsed.
            return .deferred(reason: "standby pair: the lease of \(gateway) (epoch \(role.epoch)) was not renewed in time")
        case .standby:
            let holder = role.owner.map { "\($0) holds the site's lease (epoch \(role.epoch))" }
                ?? "another gateway holds the site's lease"
            return .deferred(reason: "standby: \(holder)")
        case .unknown:
            if primary, role.lastContact == nil, now - role.started >= unreachableGrace {
                return .granted(ActuationToken(owner: gateway, epoch: 0))
            }
            return .deferred(reason: "standby pair: no lease yet (etcd not reached since start)")
        }
    }

    /// Whether `permit` grants without a valid lease (the owner or primary acting through an etcd outage).
    public func actsWithoutLease(_ role: StandbyRole, at now: ContinuousClock.Instant) -> Bool {
        guard case .granted = permit(role, at: now) else { return false }
        if role.kind == .owner, let until = role.leaseValidUntil, now + writeGuard <= until { return false }
        return true
    }
}

/// Runs the election for one gateway: keeps a lease alive, tries to create the site's owner key on it, and
/// watches who holds it. Every `tick` it sends one keep-alive and one create-if-absent (a read when the key is
/// there). The owner key is `/firewatch/<site>/owner`, its value the owner's name; its create revision is the
/// epoch.
///
/// A stopping owner revokes its lease (`resign()`), so the standby takes over at its next tick instead of after
/// the TTL (an upgrade or a reboot hands over at once).
public final class LeaseElection: Service, Sendable {
    public let client: EtcdClient
    public let site: String
    public let gateway: String
    /// The lease's time to live, whole seconds (etcd's unit).
    public let ttl: Int64
    public let tick: Duration
    public let logger: Logger
    public var key: String { "/firewatch/\(site)/owner" }

    private let state: Mutex<StandbyRole>
    private let lease = Mutex<EtcdLease?>(nil)
    private let changes: @Sendable (StandbyRole, StandbyRole) -> Void

    /// `onChange(old, new)` is called (on the election's task) whenever the role, the owner or the epoch
    /// changes, and when etcd stops or starts answering.
    public init(
        client: EtcdClient, site: String, gateway: String, ttl: Duration, tick: Duration? = nil, logger: Logger,
        onChange: @escaping @Sendable (StandbyRole, StandbyRole) -> Void = { _, _ in }
    ) {
        self.client = client
        self.site = site
        self.gateway = gateway
        self.ttl = max(1, ttl.components.seconds)
        self.tick = tick ?? min(ttl / 5, .milliseconds(500))
        self.logger = logger
        self.changes = onChange
        self.state = Mutex(.initial(at: .now))
    }

    public var role: StandbyRole { state.withLock { $0 } }

    /// Runs until cancelled. It does not end on graceful shutdown: the owner must keep its lease while the steps
    /// under way finish, and hand over with `resign()` once it will write nothing more.
    public func run() async throws {
        while !Task.isCancelled {
            await step()
            do { try await Task.sleep(for: tick) } catch { break }
        }
    }

    /// Gives the lease up (graceful stop): the key goes with it, and the standby's next tick takes over.
    public func resign() async {
        guard let held = lease.withLock({ $0 }) else { return }
        do {
            try await client.revoke(held.id)
            logger.info("lease revoked on stop", metadata: ["gateway": "\(gateway)", "lease": "\(held.id)"])
        } catch {
            logger.warning("could not revoke the lease on stop; it lapses after its TTL: \(error)")
        }
        lease.withLock { $0 = nil }
        update { role in
            role.kind = .standby
            role.leaseValidUntil = nil
            role.ownerSince = nil
        }
    }

    /// One exchange with etcd: renew (or get) this gateway's lease, then create or read the owner key.
    public func step() async {
        let sent = ContinuousClock.now
        do throws(EtcdError) {
            var validUntil: ContinuousClock.Instant
            if let held = lease.withLock({ $0 }) {
                let left = try await client.keepAlive(held.id)
                if left <= 0 {
                    // Lapsed at etcd (this gateway was cut off for longer than the TTL): the key went with it.
                    lease.withLock { $0 = nil }
                    logger.warning("lease lapsed at etcd", metadata: ["gateway": "\(gateway)", "lease": "\(held.id)"])
                    update { role in
                        role.lastContact = .now
                        role.etcdProblem = nil
                        if role.kind == .owner {
                            role.kind = .standby
                            role.owner = nil
                            role.leaseValidUntil = nil
                            role.ownerSince = nil
                        }
                    }
                    return
                }
                validUntil = sent + .seconds(left)
            } else {
                let granted = try await client.grant(ttl: ttl)
                lease.withLock { $0 = granted }
                validUntil = sent + .seconds(granted.ttl)
            }
            guard let held = lease.withLock({ $0 }) else { return }
            let outcome = try await client.createIfAbsent(key, value: gateway, lease: held.id)
            update { role in
                role.lastContact = .now
                role.etcdProblem = nil
                switch outcome {
                case .created(let revision):
                    becomeOwner(&role, epoch: revision, validUntil: validUntil)
                case .held(let holder) where holder.lease == held.id:
                    becomeOwner(&role, epoch: holder.createRevision, validUntil: validUntil)
                case .held(let holder):
                    role.kind = .standby
                    role.owner = holder.value
                    role.epoch = holder.createRevision
                    role.leaseValidUntil = nil
                    role.ownerSince = nil
                }
            }
        } catch {
            update { role in role.etcdProblem = error.description }
        }
    }

    private func becomeOwner(_ role: inout StandbyRole, epoch: Int64, validUntil: ContinuousClock.Instant) {
        if role.kind != .owner || role.epoch != epoch { role.ownerSince = .now }
        role.kind = .owner
        role.owner = gateway
        role.epoch = epoch
        role.leaseValidUntil = validUntil
    }

    private func update(_ change: (inout StandbyRole) -> Void) {
        let (old, new) = state.withLock { role -> (StandbyRole, StandbyRole) in
            let old = role
            change(&role)
            return (old, role)
        }
        if old.kind != new.kind || old.owner != new.owner || old.epoch != new.epoch
            || (old.etcdProblem == nil) != (new.etcdProblem == nil)
        {
            changes(old, new)
        }
    }
}

/// The gate of a gateway in a hot-standby pair: answers from its election and `LeasePolicy`.
public struct StandbyGate: ActuationGate {
    public let election: LeaseElection
    public let policy: LeasePolicy

    public init(election: LeaseElection, policy: LeasePolicy) {
        self.election = election
        self.policy = policy
    }

    public func permit(_ request: ActuationRequest) async -> ActuationPermit {
        policy.permit(election.role, at: .now)
    }

    public func notifies() -> Bool {
        if case .granted = policy.permit(election.role, at: .now) { return true }
        return false
    }

    /// The token this gateway acts under when it may; else the owner it sees, if any.
    public func fence() -> ActuationToken? {
        let role = election.role
        if case .granted(let token) = policy.permit(role, at: .now) { return token }
        return role.owner.map { ActuationToken(owner: $0, epoch: role.epoch) }
    }
}

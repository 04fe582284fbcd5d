import FireSafety
import Logging
import ServiceLifecycle
import SiteConfig

/// This gateway's part in a hot-standby pair (`standby:` in the site file, `firewatch run --gateway NAME`): the
/// etcd client, the election, the rule of who writes and the gate the actuator asks. Made by `Daemon.Builder`.
public final class StandbyPair: Sendable {
    public let config: StandbyConfig
    public let gateway: String
    public let client: EtcdClient
    public let election: LeaseElection
    public let policy: LeasePolicy
    public let gate: StandbyGate
    /// Each zone's procedure progress, published by the owner and followed by the standby.
    public let progress: SharedProgress
    /// Operator commands given on either gateway, carried to the other.
    public let commands: CommandRelay

    /// How long a primary that has never reached etcd waits before acting alone: two TTLs, so that a standby which
    /// did reach etcd and holds the lease has had time to show it.
    public var unreachableGrace: Duration { policy.unreachableGrace }

    /// Throws `StandbyPair.NameError` when `gateway` is not one of the pair's `peers`.
    public init(
        config: StandbyConfig, site: String, gateway: String, logger: Logger,
        onChange: @escaping @Sendable (StandbyRole, StandbyRole) -> Void
    ) throws(NameError) {
        guard config.peers.contains(gateway) else { throw NameError(gateway: gateway, peers: config.peers) }
        self.config = config
        self.gateway = gateway
        // A request to a member that does not answer gives up in a fifth of the TTL (at most a second), so the
        // next member is tried long before the lease could lapse.
        client = EtcdClient(endpoints: config.etcd, requestTimeout: min(config.ttl / 5, .seconds(1)))
        election = LeaseElection(client: client, site: site, gateway: gateway, ttl: config.ttl, logger: logger, onChange: onChange)
        policy = LeasePolicy(
            gateway: gateway, primary: config.primary == gateway,
            // A write starts only with a fifth of the TTL (at least a second) to spare.
            writeGuard: max(config.ttl / 5, .seconds(1)), unreachableGrace: config.ttl * 2)
        gate = StandbyGate(election: election, policy: policy)
        progress = SharedProgress(client: client, site: site, gateway: gateway, logger: logger)
        commands = CommandRelay(client: client, site: site, gateway: gateway, logger: logger)
        self.logger = logger
    }

    let logger: Logger

    /// `--gateway NAME` does not fit the site file: no such peer, missing, or given for a site without a pair.
    public struct NameError: Error, CustomStringConvertible {
        /// Empty when `--gateway` was not given.
        public var gateway: String
        /// Empty when the site has no `standby:`.
        public var peers: [String]

        public init(gateway: String, peers: [String]) {
            self.gateway = gateway
            self.peers = peers
        }
        public var description: String {
            if peers.isEmpty {
                return "--gateway \(gateway) is for a site with a standby: section, and this site file has none; "
                    + "run without --gateway, or add standby: (etcd, peers) to the site file"
            }
            if gateway.isEmpty {
                return "the site file has a standby: section: say which gateway of the pair this is with --gateway "
                    + "(one of \(peers.joined(separator: ", ")))"
            }
            return "--gateway \(gateway) is not one of the site's standby peers (\(peers.joined(separator: ", "))); "
                + "name this gateway as the site file's standby.peers does"
        }
    }

    /// The election as a daemon service: it keeps the lease while the daemon runs and the steps under way finish
    /// (it is shut down after the actuator), then hands the lease over at once by revoking it. Alongside, it
    /// shares progress and hands each command another gateway relayed to `apply` (with its user and gateway).
    func service(apply: @escaping @Sendable (OperatorCommand, _ user: String?, _ from: String) async -> Void) -> some Service {
        ClosureService { [election] in
            do {
                try await cancelWhenGracefulShutdown {
                    try await withThrowingDiscardingTaskGroup { group in
                        group.addTask { try await election.run() }
                        group.addTask { await self.shareProgress() }
                        group.addTask { await self.receiveCommands(apply: apply) }
                    }
                }
            } catch {}
            // The last of the progress goes out before the lease does: the next owner continues from it.
            await self.progress.exchange(ownerEpoch: self.ownerEpoch, follow: false)
            await election.resign()
            await self.client.shutdown()
        }
    }

    /// The epoch this gateway publishes under: its own, while it holds the lease.
    private var ownerEpoch: Int64? {
        let role = election.role
        return role.kind == .owner ? role.epoch : nil
    }

    /// What the journal tells the shared progress, and waits for before a step starts: as the owner, with etcd
    /// answering, that what the steps before it finished is published (at most `SharedProgress.publishWait`).
    var progressSink: Journal.ProgressSink {
        Journal.ProgressSink(
            logged: { [progress] in progress.logged($0) },
            beforeSteps: { [election, progress] in
                let role = election.role
                guard role.kind == .owner, role.etcdProblem == nil else { return }
                await progress.published()
            })
    }

    /// Reads the commands the other gateway relayed every `CommandRelay.interval` and applies each once.
    private func receiveCommands(apply: @Sendable (OperatorCommand, String?, String) async -> Void) async {
        while !Task.isCancelled {
            do {
                for relayed in try await commands.receive() {
                    guard let command = relayed.operatorCommand else {
                        logger.warning(
                            "a relayed command of a kind this version does not know; ignored",
                            metadata: ["command": "\(relayed.command)", "from": "\(relayed.gateway)"])
                        continue
                    }
                    await apply(command, relayed.user, relayed.gateway)
                }
            } catch {
                logger.debug("relayed commands not read: \(error)")
            }
            do { try await Task.sleep(for: CommandRelay.interval) } catch { return }
        }
    }

    /// Publishes as soon as the log has something new (checked every 10 ms) and follows the others every tick.
    private func shareProgress() async {
        var lastFollow = ContinuousClock.now - election.tick
        while !Task.isCancelled {
            let follow = ContinuousClock.now - lastFollow >= election.tick
            if follow { lastFollow = .now }
            await progress.exchange(ownerEpoch: ownerEpoch, follow: follow)
            do { try await Task.sleep(for: .milliseconds(10)) } catch { return }
        }
    }

    /// What `status` shows of the pair.
    func status(now: ContinuousClock.Instant) -> DaemonStatus.Standby {
        let role = election.role
        let permit = policy.permit(role, at: now)
        var acting = false
        if case .granted = permit { acting = true }
        return DaemonStatus.Standby(
            gateway: gateway, peers: config.peers, role: role.kind.rawValue, owner: role.owner, epoch: role.epoch,
            leaseAgeSeconds: role.ownerSince.map { (now - $0).secondsValue },
            leaseLeftSeconds: role.leaseValidUntil.map { max(0, ($0 - now).secondsValue) },
            etcd: role.etcdProblem ?? "reachable", lastContactAgeSeconds: role.lastContact.map { (now - $0).secondsValue },
            acting: acting, actingWithoutLease: policy.actsWithoutLease(role, at: now))
    }

    /// The records a change of role makes: who holds the lease now, and etcd lost or back. Each says what this
    /// gateway does about it under the pair's rule.
    func records(from old: StandbyRole, to new: StandbyRole, site: String, at time: Timestamp) -> [AlertRecord] {
        var records: [AlertRecord] = []
        let me = gateway
        if (old.etcdProblem == nil) != (new.etcdProblem == nil) {
            if let problem = new.etcdProblem {
                let doing: String
                switch new.kind {
                case .owner:
                    doing = "\(me) holds the lease (epoch \(new.epoch)) and keeps acting without renewing it: it cannot "
                        + "see a newer owner; the standby writes nothing"
                case .standby:
                    doing = "\(me) is standby and writes nothing; \(new.owner ?? "the owner") acts"
                case .unknown:
                    doing = policy.primary
                        ? "\(me) holds no lease; as the pair's primary it acts alone once etcd has been unreachable "
                            + "for \(DurationText.format(unreachableGrace)) since start"
                        : "\(me) holds no lease and writes nothing until it gets one"
                }
                records.append(
                    AlertRecord(
                        time: time, site: site, severity: .trouble, event: .standbyEtcdLost,
                        message: "etcd cannot be reached from \(me): \(problem); \(doing)", reason: problem))
            } else {
                records.append(
                    AlertRecord(
                        time: time, site: site, severity: .info, event: .standbyEtcdRestored,
                        message: "etcd answers \(me) again"))
            }
        }
        if old.kind != new.kind || old.owner != new.owner || old.epoch != new.epoch {
            let message: String
            switch new.kind {
            case .owner:
                message = "\(me) holds the site's lease (epoch \(new.epoch)) and acts"
                    + (old.owner.map { $0 == me ? "" : "; it took over from \($0) (epoch \(old.epoch))" } ?? "")
            case .standby:
                message = new.owner.map { "\($0) holds the site's lease (epoch \(new.epoch)); \(me) is standby and writes nothing" }
                    ?? "\(me) gave up the site's lease and writes nothing"
            case .unknown:
                message = "\(me) does not know who holds the site's lease"
            }
            // The first news of the owner after a start is information; a lease that changes hands later means a
            // gateway stopped, lost etcd or was stalled: trouble until someone looks.
            let first = old.kind == .unknown && old.owner == nil
            records.append(
                AlertRecord(
                    time: time, site: site, severity: first ? .info : .trouble, event: .standbyOwner,
                    from: old.owner, to: new.owner, message: message))
        }
        return records
    }
}


extension AlertRecord {
    /// Stamps `owner` and `epoch` from a pair's token (no change without one).
    mutating func fence(_ token: ActuationToken?) {
        guard let token else { return }
        owner = token.owner
        epoch = token.epoch
    }
}

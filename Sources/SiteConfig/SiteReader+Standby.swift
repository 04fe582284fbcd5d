import FireSafety
import Foundation

/// The site file's optional `standby:` section: a hot-standby pair of gateways coordinated through etcd.
///
/// ```yaml
/// standby:
///   etcd: [http://10.0.0.5:2379, http://10.0.0.6:2379, http://10.0.0.7:2379]
///   ttl: 10s                 # the owner's lease; default 10 s, whole seconds
///   peers: [gw-a, gw-b]      # the pair; the first is the primary (acts alone if etcd is down from the start)
/// ```
public struct StandbyConfig: Sendable, Hashable {
    /// etcd client URLs (`http://host:port`), tried in order.
    public var etcd: [String]
    /// The lease's time to live (whole seconds, etcd's unit).
    public var ttl: Duration
    /// The pair's gateway names; `peers[0]` is the primary.
    public var peers: [String]

    public static let defaultTTL: Duration = .seconds(10)

    public init(etcd: [String], ttl: Duration = StandbyConfig.defaultTTL, peers: [String]) {
        self.etcd = etcd
        self.ttl = ttl
        self.peers = peers
    }

    /// The pair's primary: the first of `peers`.
    public var primary: String { peers[0] }
}

extension SiteReader {
    static let standbyFields = ["etcd", "ttl", "peers"]

    /// Reads `standby:`. The lease must outlast what an owner does between two renewals it could miss:
    /// `ttl ≥ 3 × poll_interval + the longest write window` (a command's `verify.within`, or the read-back window),
    /// so a lease never lapses under a write the owner started in good faith.
    func readStandby(_ node: Located, poll: Duration, longestWrite: Duration) -> StandbyConfig? {
        guard let fields = node.fields(SiteReader.standbyFields, required: ["etcd", "peers"], what: "standby")
        else { return nil }
        var endpoints: [String] = []
        if let list = fields["etcd"]?.stringList(what: "etcd client URLs") {
            if list.isEmpty {
                fields["etcd"]?.error("no etcd endpoint", hint: "list the etcd members' client URLs, e.g. [http://10.0.0.5:2379]")
            }
            for (text, item) in list {
                guard let url = URL(string: text), url.scheme == "http", let host = url.host, !host.isEmpty,
                    url.port != nil, url.path.isEmpty || url.path == "/"
                else {
                    item.error(
                        "'\(text)' is not an etcd client URL",
                        hint: "write http://host:port, e.g. http://10.0.0.5:2379 (its --advertise-client-urls)")
                    continue
                }
                endpoints.append(text.hasSuffix("/") ? String(text.dropLast()) : text)
            }
        }
        var peers: [String] = []
        if let peersNode = fields["peers"], let list = peersNode.stringList(what: "gateway names") {
            for (_, item) in list {
                guard let name = item.name(what: "gateway name") else { continue }
                if peers.contains(name) {
                    item.error("gateway \(name) is listed twice", hint: "name each gateway of the pair once")
                    continue
                }
                peers.append(name)
            }
            if list.count < 2 {
                peersNode.error(
                    "a standby pair needs two gateways, found \(list.count)",
                    hint: "list both, e.g. [gw-a, gw-b]; the first is the primary")
            }
        }
        var ttl = StandbyConfig.defaultTTL
        if let ttlNode = fields["ttl"], let value = positiveDuration(ttlNode) {
            let floor = poll * 3 + longestWrite
            if value.components.attoseconds != 0 {
                ttlNode.error(
                    "ttl \(value.configText) is not a whole number of seconds",
                    hint: "etcd leases count whole seconds; write e.g. 10s")
            } else if value < floor {
                let seconds = Int64(floor.secondsValue.rounded(.up))
                ttlNode.error(
                    "ttl \(value.configText) is shorter than 3 × poll_interval (\(poll.configText)) + the longest "
                        + "command write window (\(longestWrite.configText)) = \(floor.configText)",
                    hint: "use at least \(seconds)s, or the owner's lease could lapse while it waits for a write to "
                        + "be confirmed")
            } else {
                ttl = value
            }
        } else if fields["ttl"] == nil, StandbyConfig.defaultTTL < poll * 3 + longestWrite {
            node.error(
                "the default ttl (10s) is shorter than 3 × poll_interval (\(poll.configText)) + the longest command "
                    + "write window (\(longestWrite.configText))",
                hint: "set ttl: to at least \((poll * 3 + longestWrite).configText), in whole seconds")
        }
        guard peers.count >= 2, !endpoints.isEmpty else { return nil }
        return StandbyConfig(etcd: endpoints, ttl: ttl, peers: peers)
    }
}

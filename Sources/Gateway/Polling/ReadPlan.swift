import Modbus
import SiteConfig

/// How far a request's points may be merged. After a device rejects a merged read with
/// "illegal data address", the requests made from it are split one step further, for good.
public enum ReadGranularity: Int, Sendable, Hashable, Comparable, CaseIterable {
    /// Points merged across gaps of up to `maxGap` registers (the registers in the gaps are read and ignored).
    case bridged
    /// Only points that touch or share registers are merged (no unmapped register is read).
    case contiguous
    /// One point (or points sharing exactly the same registers) per request.
    case single

    public static func < (lhs: Self, rhs: Self) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// One Modbus read: `count` registers (or bits) of `table` from `address`.
public struct ReadRequest: Sendable, Hashable, CustomStringConvertible {
    public var table: Table
    public var address: Int
    public var count: Int
    /// The points this request covers, in address order; each point of a plan is in exactly one request.
    public var points: [String]
    public var granularity: ReadGranularity

    public init(table: Table, address: Int, count: Int, points: [String], granularity: ReadGranularity) {
        self.table = table
        self.address = address
        self.count = count
        self.points = points
        self.granularity = granularity
    }

    /// One past the last address read.
    public var end: Int { address + count }

    public var description: String { "\(table.rawValue) \(address)+\(count)" }
}

/// The read requests of one device's poll: its points merged into as few requests as the protocol
/// allows (125 registers, 2000 bits per request), bridging gaps up to `maxGap` registers.
///
/// A pure value: the poller keeps one per device and replaces it with `splitting(afterIllegalAddress:)`
/// when a device refuses a merged read, which is how the fallback is remembered per device.
public struct ReadPlan: Sendable, Hashable {
    /// Requests in table order (coil, discrete, input, holding), then address order.
    public private(set) var requests: [ReadRequest]
    /// Largest gap bridged in register tables; bit tables bridge `maxGap × 16` bits (the same bytes on the wire).
    public let maxGap: Int
    /// The points planned, by name.
    public let points: [String: PointSpec]

    /// Plans reads for `points`, merging as far as `maxGap` allows.
    public init(points: [PointSpec], maxGap: Int = 8) {
        self.maxGap = max(0, maxGap)
        self.points = Dictionary(points.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let spans = Span.group(points)
        var requests: [ReadRequest] = []
        for table in Table.allCases {
            requests += Self.pack(spans.filter { $0.table == table }, granularity: .bridged, maxGap: self.maxGap)
        }
        self.requests = requests
    }

    /// The plan with `request` split one step finer, after the device answered it with
    /// "illegal data address". Nil when the request already reads a single point: that point
    /// itself is unreadable and stays in the plan (its reads fail, which the poller reports).
    public func splitting(afterIllegalAddress request: ReadRequest) -> ReadPlan? {
        guard let index = requests.firstIndex(of: request) else { return nil }
        let spans = Span.group(request.points.compactMap { points[$0] })
        var granularity = request.granularity
        while let next = ReadGranularity(rawValue: granularity.rawValue + 1) {
            granularity = next
            let pieces = Self.pack(spans, granularity: next, maxGap: maxGap)
            if pieces.count > 1 {
                var plan = self
                plan.requests.replaceSubrange(index...index, with: pieces)
                return plan
            }
        }
        return nil
    }

    /// Decodes the registers (or 0/1 bits) a device returned for `request` into one reading per point.
    public func decode(_ request: ReadRequest, registers: [UInt16]) -> [PointReading] {
        // A device that answers with the wrong count is misbehaving: trust none of that answer.
        let countError =
            registers.count == request.count
            ? nil : "device returned \(registers.count) values for a request of \(request.count)"
        return request.points.compactMap { name in
            guard let point = points[name] else { return nil }
            let start = point.address - request.address
            guard countError == nil, start >= 0, start + point.width <= registers.count else {
                return PointReading(
                    point: name, raw: [], value: nil, validity: .decodeError(countError ?? "point outside the request"))
            }
            return PointReading.decode(point, raw: Array(registers[start..<(start + point.width)]))
        }
    }

    /// Points with the same table, address and width: read together, never split apart.
    struct Span {
        let table: Table
        let address: Int
        let width: Int
        var points: [String]
        var end: Int { address + width }

        static func group(_ points: [PointSpec]) -> [Span] {
            var spans: [Span] = []
            var index: [String: Int] = [:]
            for point in points {
                let key = "\(point.table.rawValue)/\(point.address)/\(point.width)"
                if let at = index[key] {
                    spans[at].points.append(point.name)
                } else {
                    index[key] = spans.count
                    spans.append(
                        Span(table: point.table, address: point.address, width: point.width, points: [point.name]))
                }
            }
            return spans.sorted {
                ($0.table.rawValue, $0.address, $0.width) < ($1.table.rawValue, $1.address, $1.width)
            }
        }
    }

    /// Greedy left-to-right packing of sorted spans of one table. Greedy is optimal here: no span may
    /// be split, so closing a request any later than "the next span does not fit" can never help.
    static func pack(_ spans: [Span], granularity: ReadGranularity, maxGap: Int) -> [ReadRequest] {
        var requests: [ReadRequest] = []
        var byTable: [Table: [Span]] = [:]
        for span in spans { byTable[span.table, default: []].append(span) }
        for table in Table.allCases {
            guard let list = byTable[table]?.sorted(by: { ($0.address, $0.width) < ($1.address, $1.width) }) else {
                continue
            }
            let limit = table.maxReadCount
            let gap: Int
            switch granularity {
            case .bridged: gap = table.isBits ? maxGap * 16 : maxGap
            case .contiguous: gap = 0
            case .single: gap = -1
            }
            var current: ReadRequest?
            for span in list {
                if var open = current {
                    let newEnd = max(open.end, span.end)
                    let fits = span.address - open.end <= gap && newEnd - open.address <= limit
                    let sameSpan = granularity == .single && span.address == open.address && span.end == open.end
                    if fits || sameSpan {
                        open.count = newEnd - open.address
                        open.points += span.points
                        current = open
                        continue
                    }
                    requests.append(open)
                }
                current = ReadRequest(
                    table: table, address: span.address, count: span.width, points: span.points,
                    granularity: granularity)
            }
            if let open = current { requests.append(open) }
        }
        return requests
    }
}

extension LoadedSite {
    /// The merged read requests for one device's poll.
    public func readPlan(for device: DeviceConfig) -> ReadPlan {
        ReadPlan(points: profile(of: device.name)?.points ?? [], maxGap: maxGap(of: device))
    }
}

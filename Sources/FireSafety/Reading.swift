/// One observation of one source, as the poller delivers it.
public struct Reading: Sendable, Hashable {
    /// What the poller could say about the point.
    public enum Status: Sendable, Hashable {
        /// A decoded, scaled value inside the profile's range.
        case value(Value)
        /// A number above the top of the profile's range: the quantity is at least `top` (a sensor pinned at its
        /// limit in a fire), so it counts as `top` for the thresholds it crosses, and it is trouble.
        case aboveRange(reading: Double, top: Double)
        /// The device answered but the value cannot be trusted: below range, a declared fault code, a decode
        /// error, an unknown enum value.
        case invalid(reason: String)
        /// The device did not answer (connection refused, timeout, Modbus exception).
        case lost(reason: String)
    }

    public var source: SourceRef
    /// When the value was read (the poller's wall time converted to a `Timestamp`).
    public var time: Timestamp
    public var status: Status

    public init(source: SourceRef, time: Timestamp, status: Status) {
        self.source = source
        self.time = time
        self.status = status
    }

    public static func value(_ source: SourceRef, _ value: Value, at time: Timestamp) -> Reading {
        Reading(source: source, time: time, status: .value(value))
    }
}

/// A source's position in the engine's tables, looked up once (`Engine.slot(of:)`) so the poller can pass
/// readings without the engine hashing a `SourceRef` on every cycle.
public struct SourceSlot: Sendable, Hashable {
    /// Index into the engine's source table; only meaningful for the engine (or a copy of it) that issued it.
    public let index: Int

    init(index: Int) {
        self.index = index
    }
}

/// A reading with the slot of its source already looked up, for `Engine.evaluate(slotted:at:)`.
public struct SlottedReading: Sendable, Hashable {
    public var slot: SourceSlot
    public var reading: Reading

    public init(slot: SourceSlot, reading: Reading) {
        self.slot = slot
        self.reading = reading
    }
}

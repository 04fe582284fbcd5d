import FireSafety
import Foundation
import Modbus
import Testing
@testable import Gateway
import FireWatchTesting
import SiteConfig

/// Random points of a plausible profile: any table, bit tables hold bools, no partial overlaps.
func randomPlanPoints(_ rng: inout SplitMix64) -> [PointSpec] {
    var points: [PointSpec] = []
    let count = Int.random(in: 1...80, using: &rng)
    let spread = [40, 300, 3000, 65535].randomElement(using: &rng)!
    for index in 0..<count {
        let table = Table.allCases.randomElement(using: &rng)!
        let type: DataType = table.isBits ? .bool : DataType.allCases.randomElement(using: &rng)!
        var point = PointSpec(
            name: "p\(index)", table: table, address: Int.random(in: 0...spread, using: &rng), type: type)
        if type == .bits { point.bits = [0: "b"] }
        if type == .enum { point.values = [0: "zero"] }
        if point.address + point.width > 65536 { point.address = 65536 - point.width }
        let clash = points.contains { other in
            other.table == point.table && other.address != point.address
                && (other.address..<other.address + other.width).overlaps(point.address..<point.address + point.width)
        }
        let sameSpanDifferentWidth = points.contains {
            $0.table == point.table && $0.address == point.address && $0.width != point.width
        }
        if !clash && !sameSpanDifferentWidth { points.append(point) }
    }
    return points
}

/// The invariants every plan keeps.
func checkPlanInvariants(
    _ plan: ReadPlan, _ points: [PointSpec], maxGap: Int, sourceLocation: SourceLocation = #_sourceLocation
) {
    let covered = plan.requests.flatMap(\.points)
    #expect(
        covered.sorted() == points.map(\.name).sorted(), "every point in exactly one request",
        sourceLocation: sourceLocation)
    for request in plan.requests {
        #expect(
            request.count >= 1 && request.count <= request.table.maxReadCount, "\(request)",
            sourceLocation: sourceLocation)
        #expect(request.address >= 0 && request.end <= 65536, "\(request)", sourceLocation: sourceLocation)
        let members = request.points.compactMap { plan.points[$0] }.sorted { $0.address < $1.address }
        for point in members {
            #expect(point.table == request.table, sourceLocation: sourceLocation)
            #expect(
                point.address >= request.address && point.address + point.width <= request.end,
                sourceLocation: sourceLocation)
        }
        #expect(
            members.first?.address == request.address, "a request starts at a point", sourceLocation: sourceLocation)
        #expect(
            members.map { $0.address + $0.width }.max() == request.end, "and ends at one",
            sourceLocation: sourceLocation)
        // Gaps inside a request are at most what its granularity allows.
        let limit: Int
        switch request.granularity {
        case .bridged: limit = request.table.isBits ? maxGap * 16 : maxGap
        case .contiguous, .single: limit = 0
        }
        var end = members.first.map { $0.address } ?? 0
        for point in members {
            #expect(
                point.address - end <= limit, "gap before \(point.name) in \(request)", sourceLocation: sourceLocation)
            end = max(end, point.address + point.width)
        }
    }
}

@Suite("Read planner")
struct ConfigReadPlanTests {
    @Test("random profiles: every point covered once, limits kept, gaps bounded", arguments: 0..<40)
    func randomPlans(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed) &* 7919)
        let points = randomPlanPoints(&rng)
        let maxGap = [0, 1, 8, 30].randomElement(using: &rng)!
        let plan = ReadPlan(points: points, maxGap: maxGap)
        checkPlanInvariants(plan, points, maxGap: maxGap)
    }

    @Test("random profiles: splitting after illegal address keeps the invariants and ends", arguments: 0..<20)
    func randomSplits(seed: Int) {
        var rng = SplitMix64(seed: UInt64(seed) &* 104_729 &+ 1)
        let points = randomPlanPoints(&rng)
        var plan = ReadPlan(points: points, maxGap: 8)
        // Keep failing the first splittable request; each split makes the plan finer, so this ends.
        for _ in 0..<(points.count * 3 + 3) {
            guard let request = plan.requests.first(where: { plan.splitting(afterIllegalAddress: $0) != nil }) else {
                break
            }
            let before = plan.requests.count
            plan = plan.splitting(afterIllegalAddress: request)!
            #expect(plan.requests.count > before)
            checkPlanInvariants(plan, points, maxGap: 8)
        }
        #expect(plan.requests.allSatisfy { plan.splitting(afterIllegalAddress: $0) == nil })
        let spans = Set(points.map { "\($0.table)/\($0.address)/\($0.width)" })
        #expect(plan.requests.count == spans.count, "fully split: one request per distinct register span")
    }

    @Test("contiguous registers take the fewest requests: ⌈n/125⌉", arguments: [1, 124, 125, 126, 250, 251, 1000])
    func contiguousRegisters(count: Int) {
        let points = (0..<count).map { PointSpec(name: "r\($0)", table: .holding, address: 100 + $0, type: .uint16) }
        let plan = ReadPlan(points: points, maxGap: 0)
        #expect(plan.requests.count == (count + 124) / 125)
        checkPlanInvariants(plan, points, maxGap: 0)
    }

    @Test("contiguous coils take the fewest requests: ⌈n/2000⌉", arguments: [1, 2000, 2001, 4500])
    func contiguousBits(count: Int) {
        let points = (0..<count).map { PointSpec(name: "c\($0)", table: .coil, address: $0, type: .bool) }
        let plan = ReadPlan(points: points)
        #expect(plan.requests.count == (count + 1999) / 2000)
    }

    @Test("32-bit values are never split across two requests")
    func noStraddle() {
        let points = (0..<70).map { PointSpec(name: "f\($0)", table: .input, address: $0 * 2, type: .float32) }
        let plan = ReadPlan(points: points, maxGap: 0)
        #expect(plan.requests.count == 2)
        #expect(plan.requests.map(\.count) == [124, 16])
    }

    @Test("gaps up to max_gap are bridged, larger ones are not")
    func gapBridging() {
        func plan(gap: Int, maxGap: Int) -> ReadPlan {
            ReadPlan(
                points: [
                    PointSpec(name: "a", table: .holding, address: 10, type: .uint16),
                    PointSpec(name: "b", table: .holding, address: 11 + gap, type: .uint16),
                ], maxGap: maxGap)
        }
        #expect(plan(gap: 8, maxGap: 8).requests.map(\.description) == ["holding 10+10"])
        #expect(plan(gap: 9, maxGap: 8).requests.map(\.description) == ["holding 10+1", "holding 20+1"])
        #expect(plan(gap: 1, maxGap: 0).requests.count == 2)
        #expect(plan(gap: 0, maxGap: 0).requests.count == 1)
    }

    @Test("tables are never mixed in one request")
    func tablesApart() {
        let points = [
            PointSpec(name: "i", table: .input, address: 0, type: .uint16),
            PointSpec(name: "h", table: .holding, address: 1, type: .uint16),
            PointSpec(name: "c", table: .coil, address: 0, type: .bool),
            PointSpec(name: "d", table: .discrete, address: 1, type: .bool),
        ]
        #expect(ReadPlan(points: points).requests.map(\.table) == [.coil, .discrete, .input, .holding])
    }

    @Test("illegal address on a merged read: bridged → contiguous runs → single points → nothing more")
    func fallbackSteps() throws {
        let points = [
            PointSpec(name: "a", table: .holding, address: 0, type: .uint16),
            PointSpec(name: "b", table: .holding, address: 1, type: .uint32),
            PointSpec(name: "c", table: .holding, address: 7, type: .int16),
            PointSpec(name: "c2", table: .holding, address: 7, type: .int16),
        ]
        let plan = ReadPlan(points: points, maxGap: 8)
        #expect(plan.requests.map(\.description) == ["holding 0+8"])
        let contiguous = try #require(plan.splitting(afterIllegalAddress: plan.requests[0]))
        #expect(contiguous.requests.map(\.description) == ["holding 0+3", "holding 7+1"])
        #expect(contiguous.requests.allSatisfy { $0.granularity == .contiguous })
        // A request covering one span cannot be split further: the same registers, two names.
        #expect(contiguous.splitting(afterIllegalAddress: contiguous.requests[1]) == nil)
        let single = try #require(contiguous.splitting(afterIllegalAddress: contiguous.requests[0]))
        #expect(single.requests.map(\.description) == ["holding 0+1", "holding 1+2", "holding 7+1"])
        #expect(single.splitting(afterIllegalAddress: single.requests[0]) == nil)
        // A request that is not in the plan changes nothing.
        #expect(single.splitting(afterIllegalAddress: plan.requests[0]) == nil)
    }

    @Test("a bridged request without gaps goes straight to single points")
    func fallbackSkipsUselessLevel() throws {
        let points = (0..<3).map { PointSpec(name: "p\($0)", table: .input, address: $0, type: .uint16) }
        let plan = ReadPlan(points: points)
        let split = try #require(plan.splitting(afterIllegalAddress: plan.requests[0]))
        #expect(split.requests.count == 3)
        #expect(split.requests.allSatisfy { $0.granularity == .single })
    }
}

@Suite("Point decoding")
struct ConfigDecodeTests {
    func point(_ type: DataType, order: WordOrder = .abcd, scale: Double = 1, offset: Double = 0) -> PointSpec {
        var point = PointSpec(
            name: "p", table: .holding, address: 0, type: type, wordOrder: order, scale: scale, offset: offset)
        if type == .enum { point.values = [0: "closed", 1: "open", 2: "fault"] }
        if type == .bits { point.bits = [0: "a", 3: "d", 15: "top"] }
        return point
    }

    @Test("every numeric type and word order decodes what Codec encodes", arguments: WordOrder.allCases)
    func roundTrip(order: WordOrder) throws {
        let samples: [(DataType, Double)] = [
            (.uint16, 0), (.uint16, 65535), (.int16, -32768), (.int16, 32767), (.uint32, 4_000_000_000),
            (.uint32, 0x0102_0304), (.int32, -2_000_000_000), (.int32, -1), (.float32, -1234.5), (.float32, 0.15625),
        ]
        for (type, value) in samples {
            let raw = try Codec.encode(value, as: type, order: order)
            let reading = PointReading.decode(point(type, order: order), raw: raw)
            #expect(reading.value == .number(value), "\(type) \(order) \(value)")
            #expect(reading.isValid)
        }
    }

    @Test("32-bit word orders against known wire bytes")
    func knownVectors() {
        let vectors: [(WordOrder, [UInt16])] = [
            (.abcd, [0x3F80, 0x0000]), (.cdab, [0x0000, 0x3F80]), (.badc, [0x803F, 0x0000]), (.dcba, [0x0000, 0x803F]),
        ]
        for (order, raw) in vectors {
            #expect(PointReading.decode(point(.float32, order: order), raw: raw).value == .number(1.0), "\(order)")
        }
        #expect(PointReading.decode(point(.uint32, order: .abcd), raw: [0x0001, 0x0002]).value == .number(65538))
        #expect(PointReading.decode(point(.uint32, order: .cdab), raw: [0x0002, 0x0001]).value == .number(65538))
    }

    @Test("scale and offset follow the device facts (XY-MD02 ×0.1, APC ÷128)")
    func scaling() {
        #expect(PointReading.decode(point(.int16, scale: 0.1), raw: [0xFF33]).value == .number(-20.5))
        #expect(PointReading.decode(point(.uint16, scale: 0.1), raw: [0x0222]).value == .number(54.6))
        #expect(PointReading.decode(point(.int16, scale: 0.0078125), raw: [3200]).value == .number(25))
        #expect(PointReading.decode(point(.uint16, scale: 2, offset: -10), raw: [6]).value == .number(2))
    }

    @Test("below the range is invalid and still shows the value")
    func belowRange() {
        var p = point(.int16, scale: 0.1)
        p.range = -40...60
        let reading = PointReading.decode(p, raw: [UInt16(bitPattern: -500)])
        #expect(!reading.isValid)
        #expect(reading.validity == .belowRange(-40...60))
        #expect(reading.validity.description == "invalid: below its range -40…60")
        #expect(reading.value == .number(-50))
        #expect(reading.atLeast == nil)
        #expect(reading.value(bit: nil) == nil, "an invalid reading gives the engine no value")
    }

    @Test("above the range is trouble that counts as the top of the range")
    func aboveRange() {
        var p = point(.int16, scale: 0.1)
        p.range = -40...60
        let reading = PointReading.decode(p, raw: [612])
        #expect(!reading.isValid, "not a face value")
        #expect(reading.validity == .aboveRange(-40...60))
        #expect(reading.atLeast == 60)
        #expect(reading.value == .number(61.2), "shown as read")
        #expect(reading.validity.description == "trouble: above its range -40…60, counted as at least 60")
    }

    @Test("a declared fault code is invalid before range and enum checks, compared as the raw type reads it")
    func faultValues() {
        var temperature = point(.int16, scale: 0.1)
        temperature.range = -40...125
        temperature.faultValues = [32767, -32768]
        // 32767 × 0.1 would be "above range", i.e. evidence: as a fault code it is never evidence.
        let open = PointReading.decode(temperature, raw: [0x7FFF])
        #expect(open.validity == .faultValue(32767))
        #expect(open.value == nil && open.atLeast == nil)
        #expect(open.validity.description.contains("fault code 32767"))
        #expect(PointReading.decode(temperature, raw: [0x8000]).validity == .faultValue(-32768), "int16 is signed")
        #expect(PointReading.decode(temperature, raw: [250]).value == .number(25))
        var events = point(.bits)
        events.faultValues = [0xFFFF]
        let unimplemented = PointReading.decode(events, raw: [0xFFFF])
        #expect(unimplemented.validity == .faultValue(65535))
        #expect(unimplemented.value(bit: "a") == nil, "no alarm bit from a not-implemented bitfield")
        var wide = point(.uint32, order: .cdab)
        wide.faultValues = [0xFFFF_FFFE]
        #expect(PointReading.decode(wide, raw: [0xFFFE, 0xFFFF]).validity == .faultValue(0xFFFF_FFFE))
        #expect(PointReading.decode(wide, raw: [0xFFFF, 0xFFFE]).isValid, "word order applies")
    }

    @Test("enums: known names, unknown raw values are invalid")
    func enums() {
        #expect(PointReading.decode(point(.enum), raw: [1]).value == .name("open"))
        let unknown = PointReading.decode(point(.enum), raw: [7])
        #expect(unknown.validity == .unknownEnum(7))
        #expect(unknown.value == nil)
    }

    @Test("bits and bools, in registers and bit tables")
    func flags() {
        let bits = PointReading.decode(point(.bits), raw: [0b1000_0000_0000_1000])
        #expect(bits.bits == ["a": false, "d": true, "top": true])
        #expect(bits.value(bit: "d") == .flag(true))
        #expect(bits.value(bit: "a") == .flag(false))
        var picked = point(.bool)
        picked.bit = 3
        #expect(PointReading.decode(picked, raw: [0b1000]).value == .flag(true))
        #expect(PointReading.decode(picked, raw: [0b0111]).value == .flag(false))
        #expect(PointReading.decode(point(.bool), raw: [0x0100]).value == .flag(true))
        let coil = PointSpec(name: "c", table: .coil, address: 0, type: .bool)
        #expect(PointReading.decode(coil, raw: [1]).value == .flag(true))
        #expect(PointReading.decode(coil, raw: [0]).value == .flag(false))
    }

    @Test("undecodable registers are decode errors, never values")
    func decodeErrors() {
        let nan = PointReading.decode(point(.float32), raw: [0x7FC0, 0x0000])
        #expect(nan.value == nil)
        if case .decodeError = nan.validity {} else { Issue.record("NaN decoded as \(nan.validity)") }
        let short = PointReading.decode(point(.uint32), raw: [1])
        if case .decodeError = short.validity {} else { Issue.record("short read decoded as \(short.validity)") }
    }

    @Test("a plan decodes a request's registers into each of its points")
    func planDecode() {
        var temperature = PointSpec(name: "t", table: .input, address: 1, type: .int16, scale: 0.1)
        temperature.range = -40...60
        let humidity = PointSpec(name: "h", table: .input, address: 2, type: .uint16, scale: 0.1)
        let plan = ReadPlan(points: [temperature, humidity])
        let readings = plan.decode(plan.requests[0], registers: [0x00FA, 0x0222])
        #expect(readings.map(\.value) == [.number(25), .number(54.6)])
        let short = plan.decode(plan.requests[0], registers: [0x00FA])
        #expect(short.allSatisfy { !$0.isValid })
    }
}

@Suite("Point encoding")
struct ConfigEncodeTests {
    @Test("encode then decode gives the value back, for every shipped point", arguments: shippedProfiles)
    func roundTrip(_ reference: String) throws {
        let profile = try ProfileLoader.load(
            path: (shippedDevicesFolder as NSString).appendingPathComponent(reference + ".yaml"))
        for point in profile.points {
            let samples: [Value]
            switch point.valueKind {
            case .number:
                let low = point.range?.lowerBound ?? 0
                samples = [.number(low), .number(point.range.map { ($0.lowerBound + $0.upperBound) / 2 } ?? 1)]
            case .name: samples = point.valueNames.map(Value.name)
            case .flag: samples = [.flag(true), .flag(false)]
            case .bitfield: samples = [.number(0)]
            }
            for value in samples {
                let raw = try point.encode(value)
                let reading = PointReading.decode(point, raw: raw)
                if case .number(let expected) = value, case .number(let got)? = reading.value {
                    #expect(abs(got - expected) <= abs(point.scale) / 2, "\(reference) \(point.name)")
                } else {
                    #expect(reading.value == value, "\(reference) \(point.name) \(value)")
                }
            }
        }
    }

    @Test("a bool on one bit, and a named bit, keep the other bits")
    func bits() throws {
        var overtemp = PointSpec(name: "o", table: .holding, address: 22, type: .bool)
        overtemp.bit = 3
        #expect(try overtemp.encode(.flag(true), into: [0b0001]) == [0b1001])
        #expect(try overtemp.encode(.flag(false), into: [0b1001]) == [0b0001])
        var events = PointSpec(name: "e", table: .holding, address: 1, type: .bits)
        events.bits = [1: "over_temp_alarm"]
        #expect(try events.encode(bit: "over_temp_alarm", to: true, into: [0x8000]) == [0x8002])
        #expect(throws: DecodeError.self) { try events.encode(bit: "nope", to: true, into: [0]) }
        #expect(throws: DecodeError.self) { try overtemp.encode(.number(1)) }
    }
}

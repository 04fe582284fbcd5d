import Testing
@testable import Modbus

@Suite("Codec")
struct CodecTests {
    @Test("32-bit word orders place the bytes as their names say", arguments: [
        (WordOrder.abcd, [UInt16(0x1234), 0x5678]),
        (WordOrder.cdab, [UInt16(0x5678), 0x1234]),
        (WordOrder.badc, [UInt16(0x3412), 0x7856]),
        (WordOrder.dcba, [UInt16(0x7856), 0x3412]),
    ])
    func wordOrders(order: WordOrder, wire: [UInt16]) throws {
        #expect(try Codec.decodeRaw(wire[...], as: .uint32, order: order) == Double(0x1234_5678))
        #expect(try Codec.encode(Double(0x1234_5678), as: .uint32, order: order) == wire)
    }

    @Test("float32, int32 and int16 round-trip through every word order", arguments: WordOrder.allCases)
    func roundTrip(order: WordOrder) throws {
        for (value, type) in [(-1234.5, DataType.float32), (-2_000_000_000, .int32), (-20.5, .int16)] {
            let scale = type == .int16 ? 0.1 : 1
            let wire = try Codec.encode(value, as: type, order: order, scale: scale)
            let back = Codec.scaled(try Codec.decodeRaw(wire[...], as: type, order: order), scale: scale)
            #expect(abs(back - value) < 1e-9, "\(type) \(order)")
        }
    }

    @Test("XY-MD02 example: 0xFF33 is -20.5 °C at scale 0.1")
    func signedTemperature() throws {
        #expect(Codec.scaled(try Codec.decodeRaw([0xFF33][...], as: .int16), scale: 0.1) == -20.5)
    }

    @Test("values that do not fit their type are refused")
    func overflow() {
        #expect(throws: DecodeError.self) { try Codec.encode(70_000, as: .uint16) }
        #expect(throws: DecodeError.self) { try Codec.encode(-1, as: .uint32) }
        #expect(throws: DecodeError.self) { try Codec.decodeRaw([0x7FC0, 0x0000][...], as: .float32) }
    }
}

import Foundation
import Testing

@testable import AlertLog

@Suite("JSON writer")
struct JSONWriterTests {
    @Test("strings escape quotes, backslashes, newlines and control characters; non-ASCII stays UTF-8")
    func escaping() throws {
        let text = "say \"hi\"\\ now\nnext\tline\r\u{01}\u{1F}\u{7F} 35 °C ✓ \u{2028}"
        let json = JSONWriter.serialize(.object([JSONMember("m", .string(text))]))
        #expect(json == #"{"m":"say \"hi\"\\ now\nnext\tline\r\u0001\u001f\u007f 35 °C ✓ \u2028"}"#)
        #expect(!json.contains("\n"))
        // Round trip through Foundation's parser gives back the same string.
        let parsed = try JSONDecoder().decode([String: String].self, from: Data(json.utf8))
        #expect(parsed["m"] == text)
    }

    @Test("numbers: integers plain, whole doubles without .0, fractions round-trip, NaN as null")
    func numbers() {
        let json = JSONWriter.serialize(
            .object([
                JSONMember("i", -42), JSONMember("w", 50.0), JSONMember("f", 0.1), JSONMember("s", 1e-7),
                JSONMember("nan", .number(.nan)), JSONMember("b", true), JSONMember("z", nil),
                JSONMember("a", .array([1, "x"])),
            ]))
        #expect(json == #"{"i":-42,"w":50,"f":0.1,"s":1e-07,"nan":null,"b":true,"z":null,"a":[1,"x"]}"#)
    }

    @Test("keys keep the order they were given in")
    func keyOrder() {
        let json = JSONWriter.serialize(members: [JSONMember("z", 1), JSONMember("a", 2), JSONMember("m", 3)])
        #expect(json == #"{"z":1,"a":2,"m":3}"#)
    }

    @Test("timestamps are UTC with milliseconds")
    func timestamps() {
        #expect(AlertLogWriter.logTime(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(AlertLogWriter.logTime(Date(timeIntervalSince1970: 1_795_489_929.125)) == "2026-11-24T03:12:09.125Z")
        #expect(AlertLogWriter.logTime(Date(timeIntervalSince1970: -0.5)) == "1969-12-31T23:59:59.500Z")
    }
}

import AsyncHTTPClient
import FireSafety
import Foundation
import Hummingbird
import Logging
import SiteConfig
import Testing

@testable import AlertLog
@testable import Gateway

/// `GET /` and `GET /records` of the metrics server, and the journal's ring of recent records behind the latter.
/// The page in a real browser over a real daemon: `AnnunciatorBrowserTests`.
@Suite("Annunciator page")
struct AnnunciatorPageTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    /// GET `path` from a metrics server on 127.0.0.1 port 0 whose `/records` serves `records`.
    func get(_ path: String, records: [JSONValue] = []) async throws -> Answer {
        let (ports, portInput) = AsyncStream.makeStream(of: Int.self)
        let server = MetricsServer(
            address: HostPort(host: "127.0.0.1", port: 0),
            registry: MetricsObserver(site: "pangyo-a", devices: []).registry, logger: Self.logger,
            status: { MetricsServerTests.TestStatus(site: "pangyo-a", zones: [:]) }, health: { .healthy },
            records: { records }, onListening: { portInput.yield($0.port) })
        return try await withRunning(server.run) {
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let response = try await HTTPClient.shared.execute(
                HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)"), timeout: .seconds(10))
            let body = try await response.body.collect(upTo: 4 << 20)
            var headers: [String: String] = [:]
            for (name, value) in response.headers { headers[name.lowercased()] = value }
            return Answer(status: Int(response.status.code), headers: headers, body: String(buffer: body))
        }
    }

    @Test("GET / is one HTML document that needs nothing from any other host and can give no command")
    func page() async throws {
        let answer = try await get("/")
        #expect(answer.status == 200)
        #expect(answer.headers["content-type"]?.hasPrefix("text/html") == true)
        #expect(answer.headers["content-security-policy"]?.contains("default-src 'none'") == true)
        #expect(answer.headers["content-security-policy"]?.contains("connect-src 'self'") == true)
        let html = answer.body
        #expect(html == AnnunciatorPage.html)
        #expect(html.hasPrefix("<!doctype html>"))
        #expect(html.contains(#"<meta name="viewport" content="width=device-width, initial-scale=1">"#))
        // Nothing external: no address of another host, nothing loaded by reference, no CSS import or url().
        for external in ["http://", "https://", "//cdn", "src=", "href=", "@import", "url(", "@font-face"] {
            #expect(!html.lowercased().contains(external), "the page contains \(external)")
        }
        // Read-only: no form, no button, no request but a plain GET, and it says so.
        for command in ["<form", "<button", "<input", "method", "xmlhttprequest", "eventsource", "websocket"] {
            #expect(!html.lowercased().contains(command), "the page contains \(command)")
        }
        #expect(html.contains("Read only: no command can be given from this page"))
        // Data reaches the document as text only.
        #expect(!html.contains("innerHTML") && !html.contains("outerHTML") && !html.contains("insertAdjacentHTML"))
        #expect(!html.contains("document.write"))
        #expect(html.contains(#"fetch(path, { cache: "no-store" })"#))
        #expect(html.contains(#"getJSON("/status")"#) && html.contains(#"getJSON("/records")"#))
        #expect(html.contains(#""firewatch abort " + zone.name"#))
    }

    @Test("GET /records is the records closure as a JSON array, each record as the log writes its members")
    func records() async throws {
        let record = NotifyChannelTests.record()
        let records: [JSONValue] = [
            .object([JSONMember("seq", 7)] + record.jsonMembers()), .object(record.jsonMembers()),
        ]
        let answer = try await get("/records", records: records)
        #expect(answer.status == 200)
        #expect(answer.headers["content-type"] == "application/json")
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(answer.body.utf8)) as? [[String: Any]])
        #expect(parsed.count == 2)
        #expect(parsed[0]["seq"] as? Int == 7)
        #expect(parsed[1]["seq"] == nil)
        #expect(parsed[0]["message"] as? String == "off-gas detected in battery-room-a")
        #expect(parsed[0]["zone"] as? String == "battery-room-a")
        #expect(parsed[0]["severity"] as? String == "alarm")
        #expect(parsed[0]["event"] as? String == "zone.state")
        #expect(try await get("/records").body == "[]")
    }

    @Test("the journal keeps the last 20 records it logged, newest last, with the seq the log gave them")
    func journalRing() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fw-ring-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        let writer = AlertLogWriter(
            configuration: AlertLogConfiguration(path: folder + "/alerts.jsonl"), logger: Self.logger)
        defer { writer.close() }
        let journal = Journal(writer: writer, observer: NoRuntimeObserver(), logger: Self.logger)
        for n in 1...25 {
            await journal.write(JournalEntry(records: [NotifyChannelTests.record("record \(n)")], actions: []))
        }
        let recent = journal.recent.all
        #expect(recent.count == 20)
        #expect(recent.map { $0["message"]?.stringValue } == (6...25).map { "record \($0)" })
        let seqs = recent.compactMap { $0["seq"]?.intValue }
        #expect(seqs.count == 20)
        #expect(zip(seqs, seqs.dropFirst()).allSatisfy { $1 == $0 + 1 })
        // The same members as the line on disk, without the chain's `prev`.
        let last = try #require(
            try String(contentsOfFile: folder + "/alerts.jsonl", encoding: .utf8).split(separator: "\n").last)
        let members = String(JSONWriter.serialize(try #require(recent.last)).dropLast())
        #expect(last.hasPrefix(members + ",\"prev\":"))
    }
}

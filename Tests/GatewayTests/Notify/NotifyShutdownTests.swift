import FireSafety
import FireWatchTesting
import Foundation
import Gateway
import Logging
import ServiceLifecycle
import SiteConfig
import Testing

@Suite("Notify shutdown")
struct NotifyShutdownTests {
    @Test("graceful shutdown delivers what is queued, then refuses new records")
    func drainsOnGracefulShutdown() async throws {
        let log = EventLog()
        let directory = try TemporaryDirectory()
        defer { directory.remove() }
        let file = directory.file("pages.jsonl")
        let channel = NotifyChannel(
            name: "pager", target: .command(["/bin/sh", "-c", "cat >> '\(file)'"]), timeout: .seconds(10))
        let notifier = NotifyChannelTests.notifier([channel], log: log)
        let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
        let group = ServiceGroup(services: [notifier], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            notifier.send(NotifyChannelTests.record("r1"), to: [channel])
            await log.wait(for: 1, "delivered pager")
            notifier.send(NotifyChannelTests.record("r2"), to: [channel])
            notifier.send(NotifyChannelTests.record("r3"), to: [channel])
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
        }
        #expect(log.matching("delivered pager") == ["delivered pager r1", "delivered pager r2", "delivered pager r3"])
        notifier.send(NotifyChannelTests.record("r4"), to: [channel])
        #expect(notifier.statistics()["pager"] == .init(delivered: 3, failed: 1, dropped: 0, queued: 0))
        let lines = try String(contentsOfFile: file, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 3)
    }
}

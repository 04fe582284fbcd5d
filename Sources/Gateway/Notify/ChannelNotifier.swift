import AsyncHTTPClient
import FireSafety
import Foundation
import Logging
import ServiceLifecycle
import SiteConfig
import Synchronization

/// Delivers alert records to the site's `notify:` channels: `webhook` (HTTP POST of the record JSON),
/// `command` (a program with the record JSON on stdin) and `alertmanager` (alerts kept firing while a zone is
/// latched: ChannelNotifier+Alertmanager.swift).
///
/// Each channel has its own bounded queue and its own worker, so a slow or dead channel never delays another,
/// and `send` only enqueues: it never waits, so it never delays actuation. When a queue is full the *oldest*
/// waiting record is dropped (the newest state of a zone is what people must see once the path recovers), and
/// the drop is reported as a failure. Every failure (after retries, a timeout, a non-2xx answer, a non-zero
/// exit, a drop) calls `onFailure`, which the daemon turns into a `notify.failed` record and a metric. Failures
/// are reported from `run()`'s own task, one at a time, never from inside `send`.
///
/// Graceful shutdown stops accepting records and delivers what is queued (each attempt still bounded by the
/// channel's timeout); cancellation stops at once. The HTTP client lives only inside `run()` and is shut down
/// when it returns. Call `run()` once.
public final class ChannelNotifier: AlertNotifier {
    /// How hard to try.
    public struct Options: Sendable {
        /// Records that may wait per channel (beyond the one being delivered).
        public var queueCapacity: Int
        /// Tries per webhook delivery; a `command` runs once (a pager program retries on its own, and running it
        /// twice pages twice).
        public var webhookAttempts: Int
        /// Wait before the second webhook attempt; doubled before each later one.
        public var retryBackoff: Duration
        /// For `command` channels: time between SIGTERM at the timeout and SIGKILL.
        public var commandKillGrace: Duration
        /// After graceful shutdown begins, how long what is queued may still be delivered before the rest is cut
        /// off (and reported as not sent): a channel stuck in its timeout must not hold up the daemon's stop.
        public var shutdownGrace: Duration
        /// For `alertmanager` channels: how often latched zones are re-posted, how long events last, the wall clock.
        public var alertmanager = AlertmanagerOptions()

        public init(
            queueCapacity: Int = 64, webhookAttempts: Int = 3, retryBackoff: Duration = .milliseconds(500),
            commandKillGrace: Duration = .seconds(2), shutdownGrace: Duration = .seconds(3)
        ) {
            self.queueCapacity = max(1, queueCapacity)
            self.webhookAttempts = max(1, webhookAttempts)
            self.retryBackoff = retryBackoff
            self.commandKillGrace = commandKillGrace
            self.shutdownGrace = shutdownGrace
        }
    }

    /// Called once per failed delivery with the channel's name, the record and why, in a person's words.
    ///
    /// Async so the daemon can await `Daemon.notificationFailed` (which logs `notify.failed`) directly: failures are
    /// reported one at a time, in order, from the notifier's own reporting task, never from `send`.
    public typealias FailureHandler =
        @Sendable (_ channel: String, _ record: AlertRecord, _ reason: String) async -> Void

    let options: Options
    let logger: Logger
    private let onDelivered: (@Sendable (_ channel: String, _ record: AlertRecord) -> Void)?
    private let onFailure: FailureHandler
    private let state: Mutex<State>
    private let newLanes: AsyncStream<Lane>
    private let newLanesInput: AsyncStream<Lane>.Continuation
    private let failures: AsyncStream<Failure>
    private let failuresInput: AsyncStream<Failure>.Continuation
    /// What each `alertmanager` channel has firing.
    let alertmanagerFeeds = AlertmanagerFeeds()

    /// - Parameters:
    ///   - channels: the site's channels (`LoadedSite.notify`); a channel first named in `send` gets a lane then.
    ///   - onDelivered: called after each successful delivery, on that channel's worker (tests, counters).
    ///   - onFailure: see `FailureHandler`; while it runs, later failures wait (deliveries do not).
    public init(
        channels: [NotifyChannel], options: Options = Options(), logger: Logger,
        onDelivered: (@Sendable (_ channel: String, _ record: AlertRecord) -> Void)? = nil,
        onFailure: @escaping FailureHandler
    ) {
        self.options = options
        self.logger = logger
        self.onDelivered = onDelivered
        self.onFailure = onFailure
        (newLanes, newLanesInput) = AsyncStream.makeStream(of: Lane.self)
        // Unbounded: failures are at most one per queued record per channel, and each must be reported.
        (failures, failuresInput) = AsyncStream.makeStream(of: Failure.self)
        var lanes: [String: Lane] = [:]
        for channel in channels where lanes[channel.name] == nil {
            let lane = Lane(name: channel.name, capacity: options.queueCapacity)
            lanes[channel.name] = lane
            newLanesInput.yield(lane)
        }
        state = Mutex(State(lanes: lanes))
    }

    /// Counts per channel, for `/status` and tests.
    public struct ChannelStatistics: Sendable, Equatable, Codable {
        public var delivered = 0
        public var failed = 0
        /// Records dropped because the queue was full (also counted in `failed`).
        public var dropped = 0
        /// Records waiting or being delivered now.
        public var queued = 0

        public init(delivered: Int = 0, failed: Int = 0, dropped: Int = 0, queued: Int = 0) {
            self.delivered = delivered
            self.failed = failed
            self.dropped = dropped
            self.queued = queued
        }
    }

    /// Delivery counts by channel name.
    public func statistics() -> [String: ChannelStatistics] {
        state.withLock { $0.statistics }
    }

    // MARK: AlertNotifier

    public func send(_ record: AlertRecord, to channels: [NotifyChannel]) {
        for channel in channels {
            guard let lane = lane(for: channel) else {
                fail(channel.name, record, reason: "the notifier is shutting down; record not sent", dropped: false)
                continue
            }
            enqueue(Item(record: record, channel: channel), on: lane)
        }
    }

    /// The channel's lane (started on first use), counting one more record queued on it; nil once closed.
    func lane(for channel: NotifyChannel) -> Lane? {
        let (lane, isNew) = state.withLock { s -> (Lane?, Bool) in
            if s.closed { return (nil, false) }
            s.statistics[channel.name, default: ChannelStatistics()].queued += 1
            if let lane = s.lanes[channel.name] { return (lane, false) }
            let lane = Lane(name: channel.name, capacity: options.queueCapacity)
            s.lanes[channel.name] = lane
            return (lane, true)
        }
        if let lane, isNew { newLanesInput.yield(lane) }
        return lane
    }

    func enqueue(_ item: Item, on lane: Lane) {
        let item = prepared(item)
        switch lane.input.yield(item) {
        case .enqueued:
            break
        case .dropped(let oldest):
            let why = "queue full (\(options.queueCapacity) waiting): dropped for a newer record; the channel is too slow or down"
            oldest.reply?(why)
            fail(lane.name, oldest.record, reason: why, dropped: true)
        case .terminated:
            let why = "the notifier is shutting down; record not sent"
            item.reply?(why)
            fail(lane.name, item.record, reason: why, dropped: false)
        @unknown default:
            break
        }
    }

    public func test(_ record: AlertRecord, on channels: [NotifyChannel]) async -> [(channel: String, failure: String?)] {
        await withTaskGroup(of: (Int, String?).self) { group in
            for (index, channel) in channels.enumerated() {
                group.addTask { (index, await self.test(record, on: channel)) }
            }
            var results = [String?](repeating: nil, count: channels.count)
            for await (index, failure) in group { results[index] = failure }
            return zip(channels, results).map { ($0.name, $1) }
        }
    }

    /// One channel's test: queued behind what waits there, one attempt, answered when it is delivered or fails.
    private func test(_ record: AlertRecord, on channel: NotifyChannel) async -> String? {
        let (answers, answer) = AsyncStream.makeStream(of: String?.self, bufferingPolicy: .bufferingNewest(1))
        let reply: @Sendable (String?) -> Void = { failure in
            answer.yield(failure)
            answer.finish()
        }
        guard let lane = lane(for: channel) else { return "the notifier is shutting down; not sent" }
        enqueue(Item(record: record, channel: channel, attempts: 1, reply: reply), on: lane)
        // Bounded: what waits ahead of it, then one attempt within the channel's timeout.
        let limit = channel.timeout * (options.queueCapacity + 2) + options.commandKillGrace
        do {
            return try await withTimeout(limit) { () -> String? in
                for await failure in answers { return failure }
                return "not answered (the notifier stopped)"
            }
        } catch {
            return "no answer within \(DurationText.format(limit))"
        }
    }

    /// Delivers until graceful shutdown or cancellation. On graceful shutdown what is queued is delivered for at most
    /// `Options.shutdownGrace`, then cut off: a channel stuck in its timeout must not hold up the daemon's stop
    /// (systemd would kill it, and `daemon.stopped` would never be logged).
    public func run() async throws {
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        let grace = options.shutdownGrace
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.deliver(using: client) }
            group.addTask {
                // Waits for graceful shutdown (or cancellation), then for the grace period.
                do { try await gracefulShutdown() } catch { return }
                try? await Task.sleep(for: grace)
            }
            // Whichever ends first ends the other: the deliveries are done, or the grace is up.
            await group.next()
            group.cancelAll()
        }
        do {
            try await client.shutdown()
        } catch {
            logger.warning("notifier HTTP client did not shut down cleanly: \(error)")
        }
    }

    private func deliver(using client: HTTPClient) async {
        await withGracefulShutdownHandler {
            await withTaskGroup(of: Void.self) { group in
                group.addTask {
                    for await failure in self.failures {
                        self.logger.warning(
                            "notification failed",
                            metadata: ["channel": "\(failure.channel)", "reason": "\(failure.reason)"])
                        await self.onFailure(failure.channel, failure.record, failure.reason)
                    }
                }
                await withTaskGroup(of: Void.self) { workers in
                    // Ends on graceful shutdown (the stream is finished) or cancellation.
                    for await lane in self.newLanes {
                        workers.addTask { await self.reposting(on: lane) { await self.work(lane, client: client) } }
                    }
                    await workers.waitForAll()
                }
                // Every worker is done: no failure can come any more, so the reporter may end.
                self.failuresInput.finish()
            }
        } onGracefulShutdown: {
            self.close()
        }
    }

    // MARK: Delivery

    private func work(_ lane: Lane, client: HTTPClient) async {
        for await item in lane.output {
            let failure = await deliver(item, client: client)
            if Task.isCancelled { return }
            if item.alertmanager?.repost == true {
                reposted(item, on: lane.name, failure: failure)
                continue
            }
            state.withLock { s in
                s.statistics[lane.name, default: ChannelStatistics()].queued -= 1
                if failure == nil { s.statistics[lane.name, default: ChannelStatistics()].delivered += 1 }
            }
            item.reply?(failure)
            if let failure {
                fail(lane.name, item.record, reason: failure, dropped: false)
            } else {
                onDelivered?(lane.name, item.record)
            }
        }
    }

    /// Nil when delivered, else why not.
    private func deliver(_ item: Item, client: HTTPClient) async -> String? {
        let body = NotificationPayload.bytes(of: item.record)
        switch item.channel.target {
        case .webhook(let url):
            return await post(
                body, to: url, timeout: item.channel.timeout, attempts: item.attempts ?? options.webhookAttempts,
                client: client)
        case .command(let argv):
            return await runCommand(argv, stdin: body, timeout: item.channel.timeout)
        case .alertmanager(let base):
            return await postAlerts(item, to: base, client: client)
        }
    }

    func post(
        _ body: [UInt8], to url: URL, timeout: Duration, attempts: Int, client: HTTPClient
    ) async -> String? {
        let request = {
            var request = HTTPClientRequest(url: url.absoluteString)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.headers.add(name: "User-Agent", value: "firewatch/\(BuildInfo.version)")
            request.body = .bytes(body)
            return request
        }()
        var why = ""
        var backoff = options.retryBackoff
        for attempt in 1...attempts {
            do {
                // The client's own deadline fires first and says why (a refused connection is retried by its
                // pool until then); the outer bound only catches an answer whose body never ends.
                let status = try await withTimeout(timeout + .milliseconds(500)) {
                    let response = try await client.execute(request, timeout: .nanoseconds(nanoseconds(timeout)))
                    // Read (and discard) a bounded answer so the connection can be reused.
                    _ = try? await response.body.collect(upTo: 64 * 1024)
                    return response.status.code
                }
                if (200..<300).contains(status) { return nil }
                why = "HTTP \(status)"
            } catch is DeliveryTimedOut {
                why = "no answer within \(timeout)"
            } catch let error as HTTPClientError where error == .deadlineExceeded {
                why = "no answer within \(timeout)"
            } catch {
                if Task.isCancelled { return "cancelled" }
                // NIO's IOError reads "connection reset (error set): Connection refused) (errno: 111)".
                let text = "\(error)"
                why = text.contains("Connection refused") ? "connection refused (is the receiver running?)" : text
            }
            if attempt < attempts {
                do { try await Task.sleep(for: backoff) } catch { return "cancelled" }
                backoff *= 2
            }
        }
        let tries = attempts == 1 ? "1 attempt" : "\(attempts) attempts"
        return "POST \(url.absoluteString): \(why) (\(tries))"
    }

    private func runCommand(_ argv: [String], stdin: [UInt8], timeout: Duration) async -> String? {
        let spec = ProcessSpec(
            argv: argv, stdin: stdin, timeout: timeout, killGrace: options.commandKillGrace, outputTailBytes: 512)
        let program = argv.first ?? ""
        do {
            let outcome = try await ProcessRunner.run(spec)
            if outcome.succeeded { return nil }
            var why = "\(outcome.termination)"
            if outcome.timedOut { why = "did not finish within \(timeout) (\(why))" }
            let tail = outcome.outputTail.trimmingCharacters(in: .whitespacesAndNewlines)
            if !tail.isEmpty { why += "; output: " + String(tail.suffix(200)) }
            return "command \(program): \(why)"
        } catch {
            return "command \(program): \(error.message)"
        }
    }

    // MARK: State

    func fail(_ channel: String, _ record: AlertRecord, reason: String, dropped: Bool) {
        state.withLock { s in
            var stats = s.statistics[channel, default: ChannelStatistics()]
            stats.failed += 1
            if dropped {
                stats.dropped += 1
                stats.queued -= 1
            }
            s.statistics[channel] = stats
        }
        if case .terminated = failuresInput.yield(Failure(channel: channel, record: record, reason: reason)) {
            // The reporter is gone (shutdown): the journal is the last place left to say it.
            logger.error(
                "notification failed after shutdown", metadata: ["channel": "\(channel)", "reason": "\(reason)"])
        }
    }

    /// Stops taking records; queued ones are still delivered.
    private func close() {
        let lanes = state.withLock { s -> [Lane] in
            s.closed = true
            return Array(s.lanes.values)
        }
        newLanesInput.finish()
        for lane in lanes { lane.input.finish() }
    }

    private struct State {
        var lanes: [String: Lane]
        var closed = false
        var statistics: [String: ChannelStatistics] = [:]
    }
}

/// One channel's queue: a bounded stream that keeps the newest records.
final class Lane: Sendable {
    let name: String
    let output: AsyncStream<Item>
    let input: AsyncStream<Item>.Continuation

    init(name: String, capacity: Int) {
        self.name = name
        (output, input) = AsyncStream.makeStream(of: Item.self, bufferingPolicy: .bufferingNewest(capacity))
    }
}

struct Item: Sendable {
    var record: AlertRecord
    var channel: NotifyChannel
    /// Webhook tries; nil: `Options.webhookAttempts`.
    var attempts: Int? = nil
    /// Told the outcome (nil: delivered), for `test`.
    var reply: (@Sendable (String?) -> Void)? = nil
    /// On an `alertmanager` channel: what the record changed, decided when it was queued.
    var alertmanager: AlertmanagerPost? = nil
}

private struct Failure: Sendable {
    var channel: String
    var record: AlertRecord
    var reason: String
}

private struct DeliveryTimedOut: Error {}

private func nanoseconds(_ duration: Duration) -> Int64 {
    let (seconds, attoseconds) = duration.components
    return seconds &* 1_000_000_000 &+ attoseconds / 1_000_000_000
}

/// The daemon can put the notifier straight into its `ServiceGroup`.
extension ChannelNotifier: Service {}

/// Runs `operation`, cancelling it when `timeout` passes first (the HTTP client honours cancellation).
private func withTimeout<T: Sendable>(
    _ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeliveryTimedOut() }
        return value
    }
}

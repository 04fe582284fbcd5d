import AsyncHTTPClient
import FireSafety
import Foundation
import SiteConfig
import Synchronization

/// `alertmanager:` channels: records become Alertmanager alerts (`AlertmanagerAlerts` decides which), posted to
/// `{base}/api/v2/alerts` on the channel's own lane like any delivery, so they share its bounded queue, its
/// timeout and its failure reports (`notify.failed`).
///
/// What a record changes is decided when it is queued (in record order, from `send`'s caller), not when it is
/// posted: a record dropped from a full queue still resolves or fires its latch, and the next post carries the
/// firing set as it is then. Every post carries every firing alert with a fresh `endsAt`; while nothing else is
/// posted, the lane's re-post timer queues a re-post every `AlertmanagerOptions.repostEvery` (only when the lane
/// is idle, so it never pushes a record out of the queue). A re-post is one attempt; only the first failure of a
/// run of failed re-posts is reported (a down Alertmanager must not page the other channels every minute); the
/// records' own posts are reported as always.
extension ChannelNotifier {
    /// Lets `alertmanager` channels see a record the daemon logged: a reset is not a notification, yet it must
    /// resolve the alert its zone's latch fired (and a restart's restored latches must fire again). Other channels
    /// ignore it. A channel not in `channels` (removed by a reload) stops re-posting; Alertmanager then resolves
    /// its alerts by itself within `AlertmanagerOptions.firingLasts`.
    public func follow(_ record: AlertRecord, on channels: [NotifyChannel]) {
        let managers = channels.filter { if case .alertmanager = $0.target { true } else { false } }
        alertmanagerFeeds.keep(only: managers)
        guard record.event == .zoneState else { return }
        let now = options.alertmanager.clock.wallNow()
        for channel in managers {
            let (alerts, changed) = alertmanagerFeeds.take(
                record, on: channel, notified: false, options: options.alertmanager, at: now)
            guard changed || !alerts.isEmpty, let lane = lane(for: channel) else { continue }
            enqueue(Item(record: record, channel: channel, alertmanager: AlertmanagerPost(alerts: alerts)), on: lane)
        }
    }

    /// `item` with what its record changes on an `alertmanager` channel; other items as they are.
    func prepared(_ item: Item) -> Item {
        guard case .alertmanager = item.channel.target, item.alertmanager == nil else { return item }
        var item = item
        let (alerts, _) = alertmanagerFeeds.take(
            item.record, on: item.channel, notified: true, options: options.alertmanager,
            at: options.alertmanager.clock.wallNow())
        item.alertmanager = AlertmanagerPost(alerts: alerts)
        return item
    }

    /// Posts the item's alerts and every firing one; nil when delivered (or when there was nothing to post).
    func postAlerts(_ item: Item, to base: URL, client: HTTPClient) async -> String? {
        let now = options.alertmanager.clock.wallNow()
        let alerts = (item.alertmanager?.alerts ?? []) + alertmanagerFeeds.firing(on: item.channel.name, at: now)
        guard !alerts.isEmpty else { return nil }
        let repost = item.alertmanager?.repost == true
        let failure = await post(
            AlertmanagerAlerts.body(alerts), to: base.appendingPathComponent("api/v2/alerts"),
            timeout: item.channel.timeout, attempts: item.attempts ?? (repost ? 1 : options.webhookAttempts),
            client: client)
        return failure.map {
            repost ? "re-posting \(alerts.count) firing alert\(alerts.count == 1 ? "" : "s"): \($0)" : $0
        }
    }

    /// Runs `work` (the lane's worker) with the lane's re-post timer beside it; the timer ends with the worker.
    func reposting(on lane: Lane, _ work: @escaping @Sendable () async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.repostTimer(lane) }
            await work()
            group.cancelAll()
        }
    }

    private func repostTimer(_ lane: Lane) async {
        let every = options.alertmanager.repostEvery
        while true {
            do { try await Task.sleep(for: every) } catch { return }
            // Busy: the post under way (or queued) carries the firing alerts anyway.
            guard let (channel, record) = alertmanagerFeeds.repostDue(lane.name),
                (statistics()[lane.name]?.queued ?? 0) == 0
            else { continue }
            let item = Item(record: record, channel: channel, attempts: 1, alertmanager: AlertmanagerPost(repost: true))
            if case .dropped(let oldest) = lane.input.yield(item), oldest.alertmanager?.repost != true {
                // Only when records were queued between the check and now; never lose one silently.
                let why =
                    "queue full (\(options.queueCapacity) waiting): dropped for a newer record; the channel is too slow or down"
                oldest.reply?(why)
                fail(lane.name, oldest.record, reason: why, dropped: true)
            }
        }
    }

    /// A re-post's outcome: the first failure after a success is reported, later ones only logged.
    func reposted(_ item: Item, on channel: String, failure: String?) {
        guard alertmanagerFeeds.reposted(on: channel, failed: failure != nil), let failure else {
            if let failure {
                logger.warning(
                    "alertmanager re-post failed again", metadata: ["channel": "\(channel)", "reason": "\(failure)"])
            }
            return
        }
        fail(
            channel, item.record, reason: failure + "; until a re-post succeeds, further failures are only logged",
            dropped: false)
    }
}

/// What a queued item posts to an Alertmanager besides the firing alerts.
struct AlertmanagerPost: Sendable {
    /// Resolved latches and events, as the record left them.
    var alerts: [AlertmanagerAlerts.Alert] = []
    /// A timer's re-post of the firing alerts, not a record's delivery: not counted, reported once per run.
    var repost = false
}

/// The firing alerts of each `alertmanager` channel, by channel name; one lock, never held across an await.
final class AlertmanagerFeeds: Sendable {
    private struct Feed {
        var channel: NotifyChannel
        var alerts: AlertmanagerAlerts
        var repostFailing = false
    }

    private let feeds = Mutex<[String: Feed]>([:])

    func take(
        _ record: AlertRecord, on channel: NotifyChannel, notified: Bool, options: AlertmanagerOptions,
        at now: Timestamp
    ) -> (alerts: [AlertmanagerAlerts.Alert], firingChanged: Bool) {
        feeds.withLock { feeds in
            var feed = feeds[channel.name] ?? Feed(channel: channel, alerts: AlertmanagerAlerts(options))
            feed.channel = channel
            let change = feed.alerts.take(record, notified: notified, at: now)
            feeds[channel.name] = feed
            return change
        }
    }

    func firing(on channel: String, at now: Timestamp) -> [AlertmanagerAlerts.Alert] {
        feeds.withLock { $0[channel]?.alerts.firing(at: now) ?? [] }
    }

    /// The channel and a record to report a failure with, when the channel has firing alerts to re-post.
    func repostDue(_ channel: String) -> (NotifyChannel, AlertRecord)? {
        feeds.withLock { feeds in
            guard let feed = feeds[channel],
                let latch = feed.alerts.latches.values.max(by: {
                    ($0.record.level ?? .alert) < ($1.record.level ?? .alert)
                })
            else { return nil }
            return (feed.channel, latch.record)
        }
    }

    /// Notes a re-post's outcome; true when it is a failure after a success (the one to report).
    func reposted(on channel: String, failed: Bool) -> Bool {
        feeds.withLock { feeds in
            guard var feed = feeds[channel] else { return failed }
            defer { feeds[channel] = feed }
            let first = failed && !feed.repostFailing
            feed.repostFailing = failed
            return first
        }
    }

    /// Forgets channels no longer configured (or now pointing elsewhere).
    func keep(only channels: [NotifyChannel]) {
        feeds.withLock { feeds in
            let current = Dictionary(channels.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
            feeds = feeds.filter { current[$0.key]?.target == $0.value.channel.target }
        }
    }
}

import AlertLog
import FireSafety
import Foundation
import Logging

/// One engine output on its way to the log and then to the actuator: its records are appended and fsynced
/// before any of its actions is handed on ("logged before it is made").
struct JournalEntry: Sendable {
    var records: [AlertRecord]
    /// Extra members per record (by index), e.g. `version` on `daemon.started`.
    var extras: [Int: [JSONMember]] = [:]
    var actions: [Action]
    /// Write a `state.checkpoint` after the records (why: "start", "hourly").
    var checkpoint: String? = nil
    /// `zone/procedure/index` of the `runStep` actions that resume a step cut off by a stop: the actuator reads
    /// before it writes them again.
    var resumed: Set<String> = []
    /// Finished once the records are logged and the actions handed on.
    var done: AsyncStream<Void>.Continuation?
}

extension JournalEntry {
    static func key(_ zone: String, _ procedure: ProcedureKind, _ index: Int) -> String {
        "\(zone)/\(procedure.rawValue)/\(index)"
    }
}

/// The single, ordered path from the engine to the disk and on to the actuator and notifier.
///
/// One consumer task: entries are logged in exactly the order the engine produced them, which is also the
/// order their actions run in. A record the disk does not take is kept in the writer's backlog and the
/// action runs anyway (actuation never waits for the disk).
final class Journal: Sendable {
    let writer: AlertLogWriter
    let entries: AsyncStream<JournalEntry>
    let input: AsyncStream<JournalEntry>.Continuation
    let observer: any RuntimeObserver
    /// A hot-standby pair's shared progress: told of each record once the log has it, and waited for (it bounds
    /// its own wait) before an entry's steps start. Nil for a gateway that acts alone.
    let progress: ProgressSink?
    /// The last records logged, for the annunciator page.
    let recent = RecentRecords()
    let logger: Logger

    /// Where the records go besides the log, and what steps wait for.
    struct ProgressSink: Sendable {
        var logged: @Sendable (AlertRecord) -> Void
        var beforeSteps: @Sendable () async -> Void
    }

    init(writer: AlertLogWriter, observer: any RuntimeObserver, progress: ProgressSink? = nil, logger: Logger) {
        self.writer = writer
        self.observer = observer
        self.progress = progress
        self.logger = logger
        (entries, input) = AsyncStream.makeStream(of: JournalEntry.self)
    }

    func submit(_ entry: JournalEntry) {
        // After shutdown nothing is logged any more; whoever waits for the entry must not wait forever.
        if case .terminated = input.yield(entry) {
            entry.done?.finish()
        }
    }

    /// Stops taking entries; `drain` returns once the queued ones are done.
    func finish() {
        input.finish()
    }

    /// Logs each entry's records, then hands its actions to `dispatch` and its records to `logged`, until
    /// `finish()` (or cancellation).
    func drain(
        dispatch: @Sendable (Action, _ resumed: Bool) -> Void, logged: @Sendable ([AlertRecord]) -> Void = { _ in }
    ) async {
        for await entry in entries {
            await write(entry)
            if let progress, entry.actions.contains(where: { if case .runStep = $0 { true } else { false } }) {
                await progress.beforeSteps()
            }
            for action in entry.actions {
                var resumed = false
                if case .runStep(let zone, let procedure, let index, _) = action {
                    resumed = entry.resumed.contains(JournalEntry.key(zone, procedure, index))
                }
                dispatch(action, resumed)
            }
            logged(entry.records)
            entry.done?.yield()
            entry.done?.finish()
        }
    }

    func write(_ entry: JournalEntry) async {
        for (index, record) in entry.records.enumerated() {
            let start = ContinuousClock.now
            let members = record.jsonMembers(extra: entry.extras[index] ?? [])
            let outcome = await writer.append(members)
            let latency = ContinuousClock.now - start
            // As the log has it, `seq` first once it has one (`prev` is the chain's business, not the page's).
            if case .durable(let seq) = outcome {
                recent.append(.object([JSONMember("seq", .int(seq))] + members))
            } else {
                recent.append(.object(members))
            }
            observer.recordAppended(record, fsyncLatency: latency, durable: outcome.isDurable)
            progress?.logged(record)
            switch outcome {
            case .durable: break
            case .pending(let backlog):
                logger.error(
                    "alert log did not take a record; held in memory and retried",
                    metadata: ["backlog": "\(backlog)", "event": "\(record.event.rawValue)"])
            case .refused(let backlog):
                logger.critical(
                    "alert log backlog full; record lost",
                    metadata: ["backlog": "\(backlog)", "message": "\(record.message)"])
            }
        }
        if let why = entry.checkpoint { await writer.appendCheckpoint(why: why) }
    }
}

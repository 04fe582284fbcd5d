import AlertLog
import Synchronization

/// The last records the journal logged, newest last: what the annunciator page lists (`GET /records`).
///
/// Bounded (a gateway runs for months); it starts empty with each daemon, so after a restart it holds what this
/// daemon logged (`daemon.started` or `daemon.recovered` first). The log on disk stays the record of truth.
final class RecentRecords: Sendable {
    let capacity: Int
    private let records = Mutex<[JSONValue]>([])

    init(capacity: Int = 20) {
        self.capacity = max(capacity, 1)
    }

    func append(_ record: JSONValue) {
        records.withLock { records in
            records.append(record)
            if records.count > capacity { records.removeFirst(records.count - capacity) }
        }
    }

    var all: [JSONValue] { records.withLock { $0 } }
}

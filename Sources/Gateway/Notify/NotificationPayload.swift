import AlertLog
import FireSafety

/// The JSON a notification carries: the alert record with the alert log's keys (`AlertRecord.jsonMembers()`,
/// CONTRACT.md "Alert log"), without `seq` and `prev`, which only the log's chain gives.
///
/// A receiver can parse a webhook body and an alert-log line with the same code.
enum NotificationPayload {
    /// The compact JSON bytes, newline-terminated so a `command` channel's shell `read` sees a whole line.
    static func bytes(of record: AlertRecord) -> [UInt8] {
        Array((JSONWriter.serialize(members: record.jsonMembers()) + "\n").utf8)
    }
}

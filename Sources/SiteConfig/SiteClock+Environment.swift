import FireSafety
import Foundation

extension ScaledSiteClock {
    /// The variable that makes `firewatch run` and `firewatch simulate` share a compressed site time across
    /// processes: `SPEED@ANCHOR`, ANCHOR a Unix time in nanoseconds. Meant for tests and rehearsals; unset, both
    /// run on real time (`firewatch demo` shares one clock in one process and needs none of this).
    public static let environmentVariable = "FIREWATCH_SITE_CLOCK"

    /// A clock on which site time equals real time at `anchor` and then runs `speed` times faster. Processes
    /// given the same speed and anchor see the same site time (to the precision of their wall clocks).
    public init(speed: Double, anchor: Timestamp) {
        let real = realtimeNow()
        self.init(speed: speed, origin: anchor + (real - anchor) * speed)
    }

    /// The clock `FIREWATCH_SITE_CLOCK` asks for; nil when it is unset, a readable error when it is malformed.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(SiteClockSettingError) -> ScaledSiteClock? {
        guard let text = environment[environmentVariable], !text.isEmpty else { return nil }
        let parts = text.split(separator: "@")
        guard parts.count == 2, let speed = Double(parts[0]), speed > 0, speed.isFinite, speed <= 1000,
            let anchor = Int64(parts[1])
        else {
            throw SiteClockSettingError(
                text: text,
                message:
                    "\(environmentVariable)=\(text) is not SPEED@ANCHOR; write e.g. 20@\(realtimeNow().nanoseconds) "
                    + "(speed above 0 up to 1000, anchor a Unix time in nanoseconds), or unset it for real time")
        }
        return ScaledSiteClock(speed: speed, anchor: Timestamp(nanoseconds: anchor))
    }
}

/// A malformed `FIREWATCH_SITE_CLOCK`.
public struct SiteClockSettingError: Error, Sendable, Hashable, CustomStringConvertible {
    public var text: String
    public var message: String
    public var description: String { message }
}

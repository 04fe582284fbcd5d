#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Wall clock and CPU time of this process at one instant (all threads: `RUSAGE_SELF`).
struct ProcessSample {
    var wall: Double
    var user: Double
    var system: Double

    static func now() -> ProcessSample {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        return ProcessSample(wall: monotonicSeconds(), user: seconds(usage.ru_utime), system: seconds(usage.ru_stime))
    }

    var cpu: Double { user + system }

    private static func seconds(_ value: timeval) -> Double { Double(value.tv_sec) + Double(value.tv_usec) / 1e6 }
}

/// CLOCK_MONOTONIC in seconds: the clock every figure of the bench is read from.
func monotonicSeconds() -> Double {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return Double(spec.tv_sec) + Double(spec.tv_nsec) / 1e9
}

/// Median, min and max of repeated measurements of one figure.
struct Spread: Sendable {
    var median: Double
    var min: Double
    var max: Double
    var count: Int

    init(_ values: [Double]) {
        let sorted = values.sorted()
        count = sorted.count
        min = sorted.first ?? .nan
        max = sorted.last ?? .nan
        if sorted.isEmpty {
            median = .nan
        } else if sorted.count % 2 == 1 {
            median = sorted[sorted.count / 2]
        } else {
            median = (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
        }
    }

    /// `median (min–max)` with `digits` decimals.
    func text(_ digits: Int = 1) -> String {
        count == 0 ? "–" : "\(format(median, digits)) (\(format(min, digits))–\(format(max, digits)))"
    }
}

/// The `p`-quantile (0…1) of sorted values, nearest rank.
func quantile(_ sorted: [Double], _ p: Double) -> Double {
    guard !sorted.isEmpty else { return .nan }
    let rank = Int((p * Double(sorted.count)).rounded(.up))
    return sorted[Swift.min(Swift.max(rank, 1), sorted.count) - 1]
}

/// A number with a fixed count of decimals (no Foundation formatter, so the output is locale-free).
func format(_ value: Double, _ digits: Int) -> String {
    guard value.isFinite else { return "–" }
    var scale = 1.0
    for _ in 0..<digits { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    if digits == 0 { return String(Int64(rounded)) }
    let negative = rounded < 0
    let magnitude = abs(rounded)
    let whole = Int64(magnitude)
    let fraction = Int64(((magnitude - Double(whole)) * scale).rounded())
    var fractionText = String(fraction)
    while fractionText.count < digits { fractionText = "0" + fractionText }
    return (negative ? "-" : "") + String(whole) + "." + fractionText
}

/// A thousands-grouped integer (`12 345`), for throughput columns.
func grouped(_ value: Double) -> String {
    guard value.isFinite else { return "–" }
    let digits = String(Int64(value.rounded()))
    var out = ""
    for (index, character) in digits.reversed().enumerated() {
        if index > 0 && index % 3 == 0 { out.append(",") }
        out.append(character)
    }
    return String(out.reversed())
}

/// Fails the bench with a message on stderr (exit 1).
func die(_ message: String) -> Never {
    var line = "fw-bench: " + message + "\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    exit(1)
}

/// Command-line options as `--name value` pairs (the bench has no user-facing CLI to speak of).
struct Options {
    private var values: [String: String] = [:]

    init(_ arguments: ArraySlice<String>) {
        var iterator = arguments.makeIterator()
        while let key = iterator.next() {
            guard key.hasPrefix("--") else { die("unexpected argument \(key)") }
            values[String(key.dropFirst(2))] = iterator.next() ?? ""
        }
    }

    func string(_ key: String, _ fallback: String? = nil) -> String {
        guard let value = values[key] ?? fallback else { die("missing --\(key)") }
        return value
    }

    func int(_ key: String, _ fallback: Int? = nil) -> Int {
        guard let value = values[key].flatMap(Int.init) ?? fallback else { die("missing or bad --\(key)") }
        return value
    }

    func double(_ key: String, _ fallback: Double? = nil) -> Double {
        guard let value = values[key].flatMap(Double.init) ?? fallback else { die("missing or bad --\(key)") }
        return value
    }

    func has(_ key: String) -> Bool { values[key] != nil }
}

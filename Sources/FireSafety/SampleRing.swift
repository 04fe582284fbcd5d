/// A bounded ring of `(time, value)` samples of one numeric source, for the rate-of-rise slope.
///
/// Fixed capacity so a fast or chattering source cannot grow memory; the slope is computed once per new
/// sample (not per evaluation), which keeps the evaluation cycle cheap.
struct SampleRing: Sendable {
    private var times: [Int64]
    private var values: [Double]
    private var head = 0
    private(set) var count = 0

    init(capacity: Int) {
        times = Array(repeating: 0, count: capacity)
        values = Array(repeating: 0, count: capacity)
    }

    var capacity: Int { times.count }

    mutating func append(time: Timestamp, value: Double) {
        times[head] = time.nanoseconds
        values[head] = value
        head = (head + 1) % capacity
        count = min(count + 1, capacity)
    }

    /// Least-squares slope (per second) over the samples no older than `window` before the newest one.
    ///
    /// Nil until the samples span at least half the window and there are at least five of them: a slope over
    /// two or three points is exactly the "one noisy sample trips it" failure the issue forbids.
    func slope(window: Duration) -> Double? {
        guard count >= 5 else { return nil }
        let newestIndex = (head - 1 + capacity) % capacity
        let newest = times[newestIndex]
        let oldestAllowed = newest &- window.nanosecondCount
        var n = 0.0
        var sumT = 0.0
        var sumV = 0.0
        var sumTT = 0.0
        var sumTV = 0.0
        var oldest = newest
        for offset in 0..<count {
            let index = (newestIndex - offset + capacity) % capacity
            let time = times[index]
            if time < oldestAllowed { break }
            oldest = time
            // Seconds relative to the newest sample keep the sums small and well conditioned.
            let t = Double(time &- newest) / 1e9
            let v = values[index]
            n += 1
            sumT += t
            sumV += v
            sumTT += t * t
            sumTV += t * v
        }
        guard n >= 5, Double(newest &- oldest) >= Double(window.nanosecondCount) / 2 else { return nil }
        let denominator = n * sumTT - sumT * sumT
        guard denominator > 0 else { return nil }
        return (n * sumTV - sumT * sumV) / denominator
    }
}

/// A bounded ring of `(time, value)` samples of one numeric source inside the rate-of-rise window, with
/// running least-squares sums.
///
/// Fixed capacity so a fast or chattering source cannot grow memory; the sums are updated in O(1) per sample
/// (and rebuilt from the samples every `capacity` appends so rounding cannot drift), which keeps the slope cheap
/// enough to recompute on every reading of every sensor.
struct SampleRing: Sendable {
    private var times: [Int64]
    private var values: [Double]
    /// Index of the oldest sample.
    private var start = 0
    private(set) var count = 0
    private let window: Int64
    /// Times enter the sums as seconds since `origin`, which keeps them small and well conditioned.
    private var origin: Int64 = 0
    private var sumT = 0.0
    private var sumV = 0.0
    private var sumTT = 0.0
    private var sumTV = 0.0
    private var appendsSinceRebuild = 0

    init(capacity: Int, window: Duration) {
        times = Array(repeating: 0, count: max(capacity, 2))
        values = Array(repeating: 0, count: max(capacity, 2))
        self.window = window.nanosecondCount
    }

    var capacity: Int { times.count }

    /// Adds a sample and returns the new `slope` (returned from here because reading `slope` through an
    /// optional stored property would copy the ring).
    @discardableResult
    mutating func append(time: Timestamp, value: Double) -> Double? {
        if count == capacity { dropOldest() }
        let oldestAllowed = time.nanoseconds &- window
        while count > 0, times[start] < oldestAllowed { dropOldest() }
        if count == 0 { rebuild(origin: time.nanoseconds) }
        let index = (start + count) % capacity
        times[index] = time.nanoseconds
        values[index] = value
        count += 1
        appendsSinceRebuild += 1
        if appendsSinceRebuild >= capacity {
            rebuild(origin: time.nanoseconds)
        } else {
            add(index, sign: 1)
        }
        return slope
    }

    /// Least-squares slope (per second) over the window.
    ///
    /// Nil until the samples span at least half the window and there are at least five of them: a slope over
    /// two or three points is exactly the "one noisy sample trips it" failure the issue forbids.
    var slope: Double? {
        guard count >= 5 else { return nil }
        let newest = times[(start + count - 1) % capacity]
        guard Double(newest &- times[start]) >= Double(window) / 2 else { return nil }
        let n = Double(count)
        let denominator = n * sumTT - sumT * sumT
        guard denominator > 0 else { return nil }
        return (n * sumTV - sumT * sumV) / denominator
    }

    private mutating func dropOldest() {
        add(start, sign: -1)
        start = (start + 1) % capacity
        count -= 1
    }

    private mutating func add(_ index: Int, sign: Double) {
        let t = Double(times[index] &- origin) / 1e9
        let v = values[index]
        sumT += sign * t
        sumV += sign * v
        sumTT += sign * t * t
        sumTV += sign * t * v
    }

    private mutating func rebuild(origin newOrigin: Int64) {
        origin = newOrigin
        sumT = 0
        sumV = 0
        sumTT = 0
        sumTV = 0
        for offset in 0..<count {
            add((start + offset) % capacity, sign: 1)
        }
        appendsSinceRebuild = 0
    }
}

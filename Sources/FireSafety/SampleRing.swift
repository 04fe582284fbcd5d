/// The rate-of-rise samples of one numeric source, kept by time: the window is cut into `bucketCount` buckets of
/// equal width, each holding the least-squares sums of the samples that fell in it.
///
/// Memory is fixed whatever the sample rate (a 200 ms device on a 1 s site fills the same 32 buckets as a 5 s
/// one), and the slope is still the exact least-squares slope of every sample in the window (to one bucket's
/// width at its old edge), summed from 32 buckets per reading. Two rules keep noise from reading as a fire:
/// - a gap longer than a quarter of the window empties the ring, so samples on both sides of an outage are
///   never joined into one line (one spike after a gap would otherwise be a steep slope);
/// - each sample enters as the median of itself and its two neighbours (so one reading late), so a rise must
///   show on two readings in a row: one spike never enters the fit, while a steady rise enters unchanged.
struct SampleRing: Sendable {
    static let bucketCount = 32

    /// Least-squares sums of one bucket's samples, times in seconds since `start`.
    private struct Bucket: Sendable {
        /// `time / width` of the bucket this slot holds; `Int64.min` when empty.
        var number = Int64.min
        var start: Int64 = 0
        var first: Int64 = 0
        var count = 0.0
        var sumT = 0.0
        var sumV = 0.0
        var sumTT = 0.0
        var sumTV = 0.0
    }

    private var buckets = [Bucket](repeating: Bucket(), count: SampleRing.bucketCount)
    private let window: Int64
    private let width: Int64
    /// Longest time between two samples that may be joined into one slope.
    private let maxGap: Int64
    /// Time of the newest sample in the buckets.
    private var newest: Int64?
    /// The last two readings, for the median of three.
    private var previous: (time: Int64, value: Double)?
    private var beforePrevious: Double?
    /// The slope of the window as of the newest sample.
    private(set) var latest: Double?

    init(window: Duration) {
        self.window = max(window.nanosecondCount, Int64(Self.bucketCount))
        width = self.window / Int64(Self.bucketCount)
        maxGap = self.window / 4
    }

    /// Adds a reading and returns the slope (per second) of the window, or nil; see the type's rules. Returned
    /// from here because reading a property through an optional stored property would copy the ring.
    @discardableResult
    mutating func append(time: Timestamp, value: Double) -> Double? {
        let now = time.nanoseconds
        guard let (middleTime, middle) = previous else {
            previous = (now, value)
            return latest
        }
        if now < middleTime { return latest }
        if now - middleTime > maxGap {
            clear()
            previous = (now, value)
            return nil
        }
        previous = (now, value)
        defer { beforePrevious = middle }
        guard let first = beforePrevious else { return latest }
        // The middle reading, replaced by the median of it and its neighbours.
        add(time: middleTime, value: max(min(first, middle), min(max(first, middle), value)))
        return latest
    }

    private mutating func add(time now: Int64, value: Double) {
        newest = now
        let number = now >= 0 ? now / width : (now - width + 1) / width
        let slot = Int(((number % Int64(Self.bucketCount)) + Int64(Self.bucketCount)) % Int64(Self.bucketCount))
        if buckets[slot].number != number {
            buckets[slot] = Bucket(number: number, start: number &* width, first: now)
        }
        let t = Double(now - buckets[slot].start) / 1e9
        buckets[slot].count += 1
        buckets[slot].sumT += t
        buckets[slot].sumV += value
        buckets[slot].sumTT += t * t
        buckets[slot].sumTV += t * value
        latest = slope(newestBucket: number)
    }

    /// Least-squares slope over the buckets of the window ending in `newestBucket`.
    ///
    /// Nil until there are at least five samples spanning half the window: a slope over two or three points is
    /// exactly the "one noisy sample trips it" failure to avoid.
    private func slope(newestBucket: Int64) -> Double? {
        guard let newest else { return nil }
        let oldestAllowed = newestBucket - Int64(Self.bucketCount) + 1
        // Every bucket's sums moved to one origin (the newest sample): Σ(t+d) = Σt + n·d, and so on.
        var n = 0.0
        var sumT = 0.0
        var sumV = 0.0
        var sumTT = 0.0
        var sumTV = 0.0
        var oldest = newest
        for bucket in buckets where bucket.number != Int64.min && bucket.number >= oldestAllowed {
            let d = Double(bucket.start - newest) / 1e9
            n += bucket.count
            sumT += bucket.sumT + bucket.count * d
            sumV += bucket.sumV
            sumTT += bucket.sumTT + 2 * d * bucket.sumT + bucket.count * d * d
            sumTV += bucket.sumTV + d * bucket.sumV
            oldest = min(oldest, bucket.first)
        }
        guard n >= 5, Double(newest - oldest) >= Double(window) / 2 else { return nil }
        let denominator = n * sumTT - sumT * sumT
        guard denominator > 0 else { return nil }
        return (n * sumTV - sumT * sumV) / denominator
    }

    private mutating func clear() {
        for index in buckets.indices { buckets[index].number = Int64.min }
        newest = nil
        beforePrevious = nil
        latest = nil
    }
}

import Dispatch
import Synchronization
import Testing

@testable import Modbus

@Suite("IOPool")
struct IOPoolTests {
    @Test("jobs of one lane never overlap and run in submission order")
    func laneIsSerial() async {
        let pool = IOPool(maxThreads: 4)
        let lane = pool.makeLane()
        let inside = Atomic<Int>(0)
        let overlaps = Atomic<Int>(0)
        let order = Mutex<[Int]>([])
        for index in 0..<500 {
            pool.submit(lane) {
                if inside.add(1, ordering: .acquiringAndReleasing).newValue > 1 { overlaps.add(1, ordering: .relaxed) }
                order.withLock { $0.append(index) }
                inside.subtract(1, ordering: .acquiringAndReleasing)
            }
        }
        // A job queued last runs after all the others.
        await pool.run(on: lane) {}
        let overlapCount = overlaps.load(ordering: .relaxed)
        #expect(overlapCount == 0)
        #expect(order.withLock { $0 } == Array(0..<500))
        #expect(pool.threadCount <= 4)
    }

    @Test("a lane blocked in a job does not hold up other lanes")
    func lanesRunInParallel() async {
        let pool = IOPool(maxThreads: 2)
        let slow = pool.makeLane()
        let fast = pool.makeLane()
        let released = DispatchSemaphore(value: 0)
        let waitedOut = Atomic<Bool>(false)
        // The slow lane blocks until the fast lane's job runs; with one thread for both this would wait out
        // the (generous) bound instead.
        pool.submit(slow) {
            if released.wait(timeout: .now() + .seconds(10)) == .timedOut { waitedOut.store(true, ordering: .relaxed) }
        }
        _ = await pool.run(on: fast) { released.signal() }
        await pool.run(on: slow) {}
        let timedOut = waitedOut.load(ordering: .relaxed)
        #expect(!timedOut)
    }

    @Test("no more threads than the bound, however many lanes are busy")
    func bounded() async {
        let pool = IOPool(maxThreads: 3)
        let lanes = (0..<50).map { _ in pool.makeLane() }
        let total = Counter()
        await withTaskGroup(of: Void.self) { group in
            for lane in lanes {
                group.addTask { await pool.run(on: lane) { total.increment() } }
            }
        }
        let ran = total.value
        #expect(ran == 50)
        #expect(pool.threadCount <= 3)
    }
}

/// An atomic counter that task closures can share.
final class Counter: Sendable {
    private let storage = Atomic<Int>(0)
    func increment() { storage.add(1, ordering: .relaxed) }
    var value: Int { storage.load(ordering: .relaxed) }
}

import CModbus
import Foundation
import Synchronization

/// A bounded set of dedicated OS threads that run blocking libmodbus calls, off the Swift cooperative pool.
///
/// Work is submitted on *lanes*: the jobs of one lane (one ``Client``) never run concurrently and run in
/// submission order, while different lanes run in parallel on up to ``maxThreads`` threads. A lane is held by
/// at most one thread at a time, so a slow device occupies one thread, never the pool. Threads start on
/// demand and stay for the life of the pool.
///
/// A plain `await client.read…` costs two thread switches (to an I/O thread and back to the cooperative pool).
/// A poll loop that runs inside `withTaskExecutorPreference(pool) { … }` runs on the I/O threads themselves
/// and costs none: the thread that resumes the task is the one that then performs its next request.
public final class IOPool: Sendable {
    /// The pool clients use unless given another: 8 threads.
    public static let shared = IOPool(maxThreads: 8)

    /// The most threads this pool ever starts.
    public let maxThreads: Int
    private let name: String
    private let monitor: Monitor

    /// - Parameters:
    ///   - maxThreads: how many lanes may run at the same time (at least 1).
    ///   - name: prefix of the thread names, as seen in `top -H` or a debugger.
    public init(maxThreads: Int = 8, name: String = "modbus-io") {
        self.maxThreads = max(1, maxThreads)
        self.name = name
        self.monitor = Monitor(slots: self.maxThreads)
    }

    deinit {
        monitor.withLock { $0.shutdown = true }
        monitor.broadcast()
    }

    /// How many threads have been started so far.
    public var threadCount: Int { monitor.withLock { $0.threads } }

    func makeLane() -> Lane { Lane() }

    /// Queues `job` on `lane`; it runs after every job queued on that lane before it.
    func submit(_ lane: Lane, _ job: @escaping @Sendable () -> Void) {
        let onWorker = isCurrentWorker
        let (wake, spawn): (Bool, Bool) = monitor.withLock { state in
            lane.jobs.append(job)
            guard !lane.scheduled else { return (false, false) }
            lane.scheduled = true
            return schedule(.lane(lane), in: &state, onWorker: onWorker)
        }
        if wake { monitor.signal() }
        if spawn { startThread() }
    }

    /// Puts `item` on the ready queue and says whether to wake an idle worker or start a new one.
    /// A worker that queues work for itself (the common case when tasks prefer this pool as their executor)
    /// takes it when its current job ends, without waking anyone: no context switch at all.
    private func schedule(_ item: WorkItem, in state: inout PoolState, onWorker: Bool) -> (wake: Bool, spawn: Bool) {
        let wasEmpty = state.ready.isEmpty
        state.ready.append(item)
        if onWorker && wasEmpty { return (false, false) }
        if state.idle > 0 { return (true, false) }
        if state.threads < maxThreads {
            state.threads += 1
            return (false, true)
        }
        return (false, false)
    }

    /// Whether the calling thread is one of this pool's workers.
    private var isCurrentWorker: Bool {
        guard let current = pthread_getspecific(currentWorkerKey) else { return false }
        return current == Unmanaged.passUnretained(monitor).toOpaque()
    }

    /// Runs `body` on `lane` and returns its result to the awaiting task.
    func run<T: Sendable>(on lane: Lane, _ body: @escaping @Sendable () -> T) async -> T {
        await withUnsafeContinuation { (continuation: UnsafeContinuation<T, Never>) in
            submit(lane) { continuation.resume(returning: body()) }
        }
    }

    private func startThread() {
        let monitor = self.monitor
        let number = monitor.withLock { $0.threads }
        let slot = monitor.slots[number - 1]
        let thread = Thread { Self.work(monitor, slot: slot) }
        thread.name = "\(name)-\(number)"
        // libmodbus needs little stack, but tasks that prefer this pool as executor run arbitrary Swift code here.
        thread.stackSize = 1024 * 1024
        thread.start()
    }

    /// The low descriptor number this worker thread may lend libmodbus, and /dev/null to park it on afterwards;
    /// `nil` off the pool's threads or when none below `FD_SETSIZE` was free when the pool was created.
    static var currentDescriptorSlot: (descriptor: Int32, null: Int32)? {
        guard let monitor = pthread_getspecific(currentWorkerKey),
            let slot = pthread_getspecific(descriptorSlotKey)
        else { return nil }
        let null = Unmanaged<Monitor>.fromOpaque(monitor).takeUnretainedValue().nullDescriptor
        return (Int32(Int(bitPattern: slot) - 1), null)
    }

    private static func work(_ monitor: Monitor, slot: Int32) {
        pthread_setspecific(currentWorkerKey, Unmanaged.passUnretained(monitor).toOpaque())
        if slot >= 0 { pthread_setspecific(descriptorSlotKey, UnsafeRawPointer(bitPattern: Int(slot) + 1)) }
        monitor.lock()
        while true {
            while monitor.state.ready.isEmpty {
                if monitor.state.shutdown {
                    monitor.state.threads -= 1
                    monitor.unlock()
                    return
                }
                monitor.state.idle += 1
                monitor.wait()
                monitor.state.idle -= 1
            }
            switch monitor.state.ready.popFirst()! {
            case .task(let job, let executor):
                monitor.unlock()
                job.runSynchronously(on: executor)
                monitor.lock()
            case .lane(let lane):
                let job = lane.jobs.popFirst()!
                monitor.unlock()
                job()
                monitor.lock()
                if lane.jobs.isEmpty {
                    lane.scheduled = false
                } else {
                    // Back of the queue, so one busy lane cannot starve the others.
                    monitor.state.ready.append(.lane(lane))
                }
            }
        }
    }

    /// A serial queue of jobs inside an ``IOPool``.
    // @unchecked: `jobs` and `scheduled` are only touched with the owning pool's monitor locked.
    final class Lane: @unchecked Sendable {
        fileprivate var jobs = FIFO<@Sendable () -> Void>()
        fileprivate var scheduled = false
    }
}

/// Lets tasks run on the pool's threads: `withTaskExecutorPreference(IOPool.shared) { … }` runs a device's
/// poll loop on the thread that does its I/O, so a request costs no thread switch at all (the default path
/// costs two: to the I/O thread and back to the cooperative pool). The task then shares the pool with
/// blocking calls, which is the point: these threads exist to block.
@available(macOS 15.0, iOS 18.0, tvOS 18.0, watchOS 11.0, *)
extension IOPool: TaskExecutor {
    public func enqueue(_ job: consuming ExecutorJob) {
        let item = WorkItem.task(UnownedJob(job), asUnownedTaskExecutor())
        let onWorker = isCurrentWorker
        let (wake, spawn) = monitor.withLock { schedule(item, in: &$0, onWorker: onWorker) }
        if wake { monitor.signal() }
        if spawn { startThread() }
    }
}

/// Identifies the pool a worker thread belongs to (the address of its monitor).
private let currentWorkerKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

/// One unit of work on the ready queue: the next job of a lane, or a slice of a task that prefers the pool.
private enum WorkItem {
    case lane(IOPool.Lane)
    case task(UnownedJob, UnownedTaskExecutor)
}

/// The descriptor slot of a worker thread, stored as slot + 1 (0 means none).
private let descriptorSlotKey: pthread_key_t = {
    var key = pthread_key_t()
    pthread_key_create(&key, nil)
    return key
}()

/// What the pool's monitor guards.
private struct PoolState {
    var ready = FIFO<WorkItem>()
    var idle = 0
    var threads = 0
    var shutdown = false
}

/// A pthread mutex and condition variable around ``PoolState``: waking an idle worker costs one futex call.
// @unchecked: `state` is only read or written between lock() and unlock(); the pthread objects live on the heap
// so they never move.
private final class Monitor: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    var state = PoolState()
    /// /dev/null, and one duplicate of it per worker below `FD_SETSIZE` (-1 where none was free).
    ///
    /// libmodbus 3.1.6 waits for answers with select(), which cannot watch a descriptor at or above
    /// FD_SETSIZE (1024): a daemon with more connections than that lends libmodbus, for the length of one call,
    /// its worker's low slot (`dup2` of the real socket), and parks the slot on /dev/null afterwards.
    let nullDescriptor: Int32
    let slots: [Int32]

    init(slots count: Int) {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
        let null = fw_open_null()
        nullDescriptor = null
        slots = (0..<count).map { _ in
            let slot = null >= 0 ? fw_dup_lowest(null) : -1
            if slot >= fw_fd_setsize() {
                Glibc.close(slot)
                return -1
            }
            return slot
        }
    }

    deinit {
        for slot in slots where slot >= 0 { Glibc.close(slot) }
        if nullDescriptor >= 0 { Glibc.close(nullDescriptor) }
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }
    func unlock() { pthread_mutex_unlock(mutex) }
    func wait() { pthread_cond_wait(condition, mutex) }
    func signal() { pthread_cond_signal(condition) }
    func broadcast() { pthread_cond_broadcast(condition) }

    func withLock<R>(_ body: (inout PoolState) -> R) -> R {
        lock()
        defer { unlock() }
        return body(&state)
    }
}

/// A first-in first-out queue with amortised O(1) operations (the Modbus target has no swift-collections).
struct FIFO<Element> {
    private var storage: [Element?] = []
    private var head = 0

    var isEmpty: Bool { head == storage.count }
    var count: Int { storage.count - head }

    mutating func append(_ element: Element) { storage.append(element) }

    mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        storage[head] = nil
        head += 1
        if head == storage.count {
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 32 && head * 2 >= storage.count {
            storage.removeFirst(head)
            head = 0
        }
        return element
    }
}

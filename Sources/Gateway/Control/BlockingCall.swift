import Foundation

/// Runs blocking `work` (a socket wait, a `waitpid`) on a new thread of its own and awaits its result.
///
/// Not `DispatchQueue.global()`: on Linux its threads are capped near the core count and shared with the
/// Swift concurrency runtime, so a few blocked calls there stall every task in the process.
func onOwnThread<T: Sendable>(name: String, _ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { (c: CheckedContinuation<T, Never>) in
        let thread = Thread { c.resume(returning: work()) }
        thread.name = name
        thread.start()
    }
}

/// Whether `condition` holds within `limit` (checked every 10 ms). For what another thread finishes a moment
/// after the call that caused it: a `Modbus.Server`'s write hook runs after its reply is on the wire, so a client
/// can see a write acknowledged before the hook has recorded it.
public func eventually(within limit: Duration = .seconds(2), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + limit
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}

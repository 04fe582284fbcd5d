import FireSafety
import Logging
import Modbus
import ServiceLifecycle
import SiteConfig

/// Polls every device of the site on its own schedule and feeds each poll's readings to the engine.
///
/// One task per device, each running on the Modbus I/O pool (`withTaskExecutorPreference(IOPool.shared)`) so a
/// poll costs no thread hops, and a slow or dead device only ever holds its own task. Each device keeps its
/// `ReadPlan` (with any fallback splits a device forced) for as long as the configuration lasts. A reload
/// replaces every poll task with tasks for the new site.
final class Poller: Service {
    let core: SafetyCore
    let clients: DeviceClients
    let health: DeviceHealth
    let time: MonotonicSiteTime
    let observer: any RuntimeObserver
    let logger: Logger
    /// Whether polls start when due; its changes are logged through the core (`SafetyCore.pollingLateness`).
    let lateness: PollLateness
    /// Called once per configuration, when every device has finished its first poll (successful or not).
    let onFirstCycle: @Sendable () -> Void
    /// The configuration polled first; reloads replace it (`restart(with:)`).
    let initial: LoadedSite
    private let reloads: AsyncStream<LoadedSite>
    private let reloadInput: AsyncStream<LoadedSite>.Continuation

    init(
        site: LoadedSite, core: SafetyCore, clients: DeviceClients, health: DeviceHealth, time: MonotonicSiteTime,
        observer: any RuntimeObserver, logger: Logger, lateness: PollLateness,
        onFirstCycle: @escaping @Sendable () -> Void
    ) {
        self.initial = site
        self.core = core
        self.clients = clients
        self.health = health
        self.time = time
        self.observer = observer
        self.logger = logger
        self.onFirstCycle = onFirstCycle
        self.lateness = lateness
        (reloads, reloadInput) = AsyncStream.makeStream(of: LoadedSite.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Restarts polling with `site` (after the engine has been rebuilt for it).
    func restart(with site: LoadedSite) {
        reloadInput.yield(site)
    }

    /// Polls until graceful shutdown or cancellation: the poll under way is cut off (its device's next poll
    /// would come after the stop anyway).
    func run() async throws {
        var current = Task { await self.pollAll(self.initial) }
        await withTaskCancellationHandler {
            await withGracefulShutdownHandler {
                for await site in reloads {
                    current.cancel()
                    await current.value
                    current = Task { await self.pollAll(site) }
                }
            } onGracefulShutdown: {
                self.reloadInput.finish()
            }
        } onCancel: {
            self.reloadInput.finish()
        }
        current.cancel()
        await current.value
    }

    private func pollAll(_ site: LoadedSite) async {
        let speed = max(time.clock.speed, 1e-9)
        health.reset(
            devices: site.devices.map { device in
                // Real time a poll may take before the watchdog calls the poller stuck: three intervals, every
                // request timing out, and the client's longest reconnect back-off.
                let requests = site.readPlan(for: device).requests.count
                let limit =
                    site.pollInterval(of: device) / speed * 3 + site.timeout(of: device) * (requests + 2)
                    + .seconds(5)
                return (device.name, device.endpoint, limit)
            })
        lateness.configure(clearAfter: Self.clearAfter(site))
        if site.devices.isEmpty { onFirstCycle() }
        await withDiscardingTaskGroup { group in
            for device in site.devices {
                group.addTask { await self.pollLoop(device, site) }
            }
        }
    }

    private func pollLoop(_ device: DeviceConfig, _ site: LoadedSite) async {
        let interval = max(site.pollInterval(of: device), .milliseconds(1))
        let client = clients.client(for: device, timeout: site.timeout(of: device))
        var plan = site.readPlan(for: device)
        let (generation, sources) = await core.sources(of: device.name)
        await withTaskExecutorPreference(IOPool.shared) {
            let start = time.now()
            var tick = 0
            // When the previous poll started: a poll is due at its tick, or one interval after the previous poll
            // started if that is earlier (`PollLateness.due`). A poll after one that found the device unreachable
            // is not judged: its delay is the dead device's own timeouts, which `device.comm_lost` already reports.
            var previous: Timestamp?
            var judged = true
            while !Task.isCancelled {
                let began = ContinuousClock.now
                let startedAt = time.now()
                let late = PollLateness.lateness(
                    startedAt: startedAt,
                    due: PollLateness.due(tick: start + interval * tick, previous: previous, interval: interval))
                previous = startedAt
                observer.pollStarted(device: device.name, lateness: late)
                if judged,
                    let change = lateness.pollStarted(
                        device: device.name, lateness: late, interval: interval, at: startedAt)
                {
                    observer.pollingLate(lateness.isLate)
                    await core.pollingLateness(change)
                }
                let result = await DeviceReader.readAll(client: client, plan: plan)
                plan = result.plan
                let duration = ContinuousClock.now - began
                let readings = Self.readings(result, sources: sources)
                let now = time.now()
                let up = !result.unreachable
                let firstError = result.failures.first?.error
                let (changed, complete) = health.pollFinished(
                    device: device.name, up: up, error: firstError?.description, at: now)
                observer.pollFinished(device: device.name, duration: duration, error: firstError, at: now)
                if !result.readings.isEmpty {
                    observer.pointsRead(device: device.name, readings: result.readings, at: now)
                }
                if changed {
                    observer.deviceAvailability(device: device.name, up: up, at: now)
                    if up {
                        logger.info("device answers", metadata: ["device": "\(device.name)"])
                    } else {
                        logger.warning(
                            "device does not answer",
                            metadata: ["device": "\(device.name)", "error": "\(firstError?.description ?? "?")"])
                    }
                }
                await core.ingest(readings, from: device.name, generation: generation)
                if complete { onFirstCycle() }
                judged = up
                tick = Self.nextTick(after: tick, elapsed: time.now() - start, interval: interval)
                do { try await time.clock.sleep(until: start + interval * tick) } catch { break }
            }
        }
    }

    /// Site time without a late poll before polling counts as on time again: ten of the longest poll interval.
    static func clearAfter(_ site: LoadedSite) -> Duration {
        (site.devices.map { site.pollInterval(of: $0) }.max() ?? .seconds(1)) * 10
    }

    /// The tick to poll at next: the schedule is start + k × interval, so polls never drift, and after a stall
    /// the ticks already missed are skipped rather than run back to back.
    static func nextTick(after tick: Int, elapsed: Duration, interval: Duration) -> Int {
        let due = Int((elapsed / interval).rounded(.down)) + 1
        return max(tick + 1, due)
    }

    /// One reading per source of the device: a value, `.aboveRange` (at least the top of its range, and trouble),
    /// `.invalid` (the device answered but the value cannot be trusted) or `.lost` (it did not answer).
    static func readings(_ result: DeviceReadResult, sources: [(SourceRef, SourceSlot)]) -> [SlottedReading] {
        var byPoint: [String: PointReading] = [:]
        for reading in result.readings { byPoint[reading.point] = reading }
        var failed: [String: ModbusError] = [:]
        for failure in result.failures {
            for point in failure.request.points where failed[point] == nil { failed[point] = failure.error }
        }
        let placeholder = Timestamp(nanoseconds: 0)  // the core stamps the time
        return sources.map { ref, slot in
            let status: Reading.Status
            if let reading = byPoint[ref.point] {
                status = reading.status(of: ref)
            } else if let error = failed[ref.point] {
                // A device that answers with an exception is reachable: the point is unreadable, not the device.
                // The short reason goes into records (one per point); the full one, with its hint, is logged per device.
                status = error.isUnreachable ? .lost(reason: error.summary) : .invalid(reason: error.summary)
            } else {
                status = .invalid(reason: "\(ref) was not read")
            }
            return SlottedReading(slot: slot, reading: Reading(source: ref, time: placeholder, status: status))
        }
    }
}

import FireSafety
import FireWatchTesting
import Foundation
import Logging
import Modbus
import SiteConfig
import Synchronization
import Testing

@testable import AlertLog
@testable import Gateway

/// The actuator's command path against a real loopback Modbus server: retries announced before their writes,
/// read-back without `verify:`, and resumed steps that read before they write.
@Suite("Actuator commands")
struct ActuatorTests {
    static let logger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static let profile = """
        name: Test relay
        modeled: true
        modeled_on: a relay module whose coils read back what was written
        points:
          lamp:   { table: coil, address: 0, type: bool }
          level:  { table: holding, address: 10, type: uint16 }
        commands:
          confirmed: { table: coil, address: 0, value: true, verify: { point: lamp, equals: true, within: 300ms } }
          latch:     { table: coil, address: 4, value: true }
          setpoint:  { table: holding, address: 10, value: 7 }
          pulse:     { table: holding, address: 20, value: 1, readback: false }
        """

    /// One site with one zone whose isolate steps use every command, served by `server`.
    final class Bench {
        let fixture: ConfigSiteFixture
        let server: Server
        let actuator: Actuator
        /// What happened, in order: `write <table> <address>` and `retry <attempt>`.
        let device: DeviceLog

        final class DeviceLog: Sendable {
            let events = Mutex<[String]>([])
            /// Addresses whose writes the device acknowledges but does not keep (a relay that drops out).
            let forgetful = Mutex<Set<Int>>([])
        }

        init(gate: any ActuationGate = OpenGate()) throws {
            let device = DeviceLog()
            self.device = device
            let box = ServerBox()
            let server = try Server(
                host: "127.0.0.1", port: 0,
                onWrite: { _, table, address, _ in
                    device.events.withLock { $0.append("write \(table.rawValue) \(address)") }
                    if device.forgetful.withLock({ $0.contains(address) }) {
                        // Undo the write, as RuntimeHarness's reverting feed coils do.
                        box.set(table, address, [0])
                    }
                })
            box.server.withLock { $0 = server }
            self.server = server
            fixture = try ConfigSiteFixture(
                site: """
                    site: bench
                    poll_interval: 1s
                    timeout: 300ms
                    alert_log: state/alerts.jsonl
                    control_socket: state/control.sock
                    devices:
                      relay: { profile: test/relay, host: 127.0.0.1, port: \(server.port) }
                    zones:
                      room:
                        signals:
                          lamp: { sources: [relay.lamp], alarm: true }
                        isolate:
                          - command: relay.confirmed
                          - command: relay.latch
                          - command: relay.setpoint
                          - command: relay.pulse
                    """, profiles: ["test/relay": ActuatorTests.profile])
            let site = try fixture.load().get()
            let time = MonotonicSiteTime(clock: SystemSiteClock())
            let writer = AlertLogWriter(
                configuration: AlertLogConfiguration(path: fixture.folder + "/state/alerts.jsonl"),
                logger: ActuatorTests.logger)
            let journal = Journal(writer: writer, observer: NoRuntimeObserver(), logger: ActuatorTests.logger)
            let core = SafetyCore(
                site: site, time: time, journal: journal, observer: NoRuntimeObserver(), logger: ActuatorTests.logger)
            actuator = Actuator(
                core: core, clients: DeviceClients(), site: site, time: time,
                notifier: RecordingNotifier(), gate: gate, attempts: 3,
                logger: ActuatorTests.logger)
        }

        func run(_ command: String, index: Int, resumed: Bool = false) async -> (StepOutcome, String)? {
            var job = Actuator.Job(
                zone: "room", procedure: .isolate, index: index, step: .command(device: "relay", command: command))
            job.resumed = resumed
            return await actuator.performCommand(job, device: "relay", command: command) { attempt, _ in
                self.device.events.withLock { $0.append("retry \(attempt)") }
                return true
            }
        }

        func writes() -> [String] { device.events.withLock { $0 } }
    }

    @Test("a command without verify: is read back from its own coil or register")
    func readsBackItsOwnRegister() async throws {
        let bench = try Bench()
        let coil = await bench.run("latch", index: 1)
        #expect(coil?.0 == .succeeded)
        #expect(coil?.1.hasPrefix("wrote true to coil 4; read back coil 4 = true") == true)
        let register = await bench.run("setpoint", index: 2)
        #expect(register?.0 == .succeeded)
        #expect(register?.1.hasPrefix("wrote 7 (0x7) to holding 10; read back holding 10 = 7") == true)
        // `readback: false`: the acknowledgement is all there is, and the detail says why.
        let pulse = await bench.run("pulse", index: 3)
        #expect(pulse?.0 == .succeeded && pulse?.1.contains("does not read back its state") == true)
        #expect(await eventually { bench.writes().count == 3 })
        #expect(bench.writes() == ["write coil 4", "write holding 10", "write holding 20"])
    }

    @Test("every retry is announced before its write, and a read back that never matches fails the step")
    func retriesAreAnnouncedFirst() async throws {
        let bench = try Bench()
        bench.device.forgetful.withLock { _ = $0.insert(4) }
        let result = await bench.run("latch", index: 1)
        #expect(result?.0 == .failed)
        #expect(result?.1.hasPrefix("not confirmed after 3 attempts: read back coil 4 = false, expected true") == true)
        #expect(bench.writes() == ["write coil 4", "retry 2", "write coil 4", "retry 3", "write coil 4"])
    }

    /// A gate that answers from a script and remembers what it was asked.
    final class ScriptedGate: ActuationGate {
        let asked = Mutex<[ActuationRequest.Action]>([])
        let answer: @Sendable (ActuationRequest.Action) -> ActuationPermit
        init(_ answer: @escaping @Sendable (ActuationRequest.Action) -> ActuationPermit) { self.answer = answer }
        func permit(_ request: ActuationRequest) async -> ActuationPermit {
            asked.withLock { $0.append(request.action) }
            return answer(request.action)
        }
    }

    @Test("the gate is asked before a step and before every write; a dry run's gate writes nothing and says why")
    func gateIsAskedFirst() async throws {
        let open = ScriptedGate { _ in .granted(nil) }
        let bench = try Bench(gate: open)
        bench.device.forgetful.withLock { _ = $0.insert(4) }
        let job = Actuator.Job(
            zone: "room", procedure: .isolate, index: 1, step: .command(device: "relay", command: "latch"))
        _ = await bench.run("latch", index: 1)
        #expect(open.asked.withLock { $0 } == [.write(attempt: 1), .write(attempt: 2), .write(attempt: 3)])

        let closed = ScriptedGate { _ in .refused(reason: "standby") }
        let refused = try Bench(gate: closed)
        let notPerformed = await refused.actuator.perform(job)
        #expect(notPerformed?.0 == .skipped)
        #expect(notPerformed?.1 == "standby: \(job.step) not performed")
        #expect(closed.asked.withLock { $0 } == [.perform])
        #expect(refused.writes() == [])

        let dry = try Bench(gate: DryRunGate())
        let skipped = await dry.actuator.perform(job)
        #expect(skipped?.0 == .skipped)
        #expect(skipped?.1 == "dry run: \(job.step) not performed")
        #expect(dry.writes() == [])
    }

    @Test("a gate that stops granting between attempts (a lease taken over) stops the next write")
    func gateRefusesALateRetry() async throws {
        let gate = ScriptedGate { action in
            if case .write(let attempt) = action, attempt > 1 { return .refused(reason: "not the owner any more") }
            return .granted(ActuationToken(owner: "gw-a", epoch: 7))
        }
        let bench = try Bench(gate: gate)
        bench.device.forgetful.withLock { _ = $0.insert(4) }
        let result = await bench.run("latch", index: 1)
        #expect(result?.0 == .skipped)
        #expect(result?.1 == "not the owner any more: relay.latch not written (attempt 2)")
        #expect(bench.writes() == ["write coil 4", "retry 2"])
    }

    @Test("a retry the engine refuses (the step was aborted) is not written")
    func refusedRetryWritesNothing() async throws {
        let bench = try Bench()
        bench.device.forgetful.withLock { _ = $0.insert(0) }
        let job = Actuator.Job(
            zone: "room", procedure: .isolate, index: 0, step: .command(device: "relay", command: "confirmed"))
        let result = await bench.actuator.performCommand(job, device: "relay", command: "confirmed") { _, _ in false }
        #expect(result == nil)
        #expect(bench.writes() == ["write coil 0"])
    }

    @Test("a resumed step the device already shows done succeeds without a write, and says so")
    func resumedStepReadsFirst() async throws {
        let bench = try Bench()
        try bench.server.set(.coil, address: 0, values: [1])
        try bench.server.set(.holding, address: 10, values: [7])
        let verified = await bench.run("confirmed", index: 0, resumed: true)
        #expect(verified?.0 == .succeeded)
        #expect(verified?.1 == "resumed after a restart: relay.lamp already reads true; not written again")
        let own = await bench.run("setpoint", index: 2, resumed: true)
        #expect(own?.1 == "resumed after a restart: holding 10 already reads 7; not written again")
        #expect(bench.writes().isEmpty)
    }

    @Test("a resumed step the device does not show done is written, the write announced as a retry first")
    func resumedStepWritesWhenNotDone() async throws {
        let bench = try Bench()
        let result = await bench.run("latch", index: 1, resumed: true)
        #expect(result?.0 == .succeeded)
        #expect(bench.writes() == ["retry 1", "write coil 4"])
    }
}

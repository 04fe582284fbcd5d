import FireWatchTesting
import Testing

@testable import FireSafety

/// A cycle evaluates only the zones whose inputs changed and those not at rest (issue 18). The reference is the
/// same engine evaluating every zone every cycle: over seeded random runs on both zones — readings, faults, drops,
/// polls of one device, ticks, commands (walk tests too) and step reports — the two must log the same records,
/// hand out the same actions and report the same zones after every operation, and the skipping one never wants its
/// next evaluation later than the reference.
@Suite("Zones skipped at rest, and staleness judged by deadline, decide exactly as the every-zone engine")
struct ZoneSkipTests {
    static let seeds: [UInt64] = Array(1...80)

    /// Sends the readings of one device only, as a poller finishing one device's poll does.
    static func poll(_ device: String, _ rig: inout Rig) {
        let readings = rig.values.keys.sorted().filter { $0.device == device }
            .map { Reading(source: $0, time: rig.now, status: rig.values[$0]!) }
        rig.absorb(rig.engine.evaluate(readings, at: rig.now))
    }

    /// The skipping engine may wake earlier than the reference (its staleness deadline is a lower bound, exact again
    /// after its next full scan), never later and never not at all.
    static func noLater(_ ours: Timestamp?, than theirs: Timestamp?) -> Bool {
        guard let theirs else { return true }
        guard let ours else { return false }
        return ours <= theirs
    }

    @Test("the same records, actions and zones; never a later deadline", arguments: seeds)
    func sameDecisions(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var skipping = Rig()
        var reference = Rig()
        reference.engine.evaluatesEveryZone = true
        #expect(skipping.log == reference.log)
        var history: [String] = []
        for _ in 0..<200 {
            let suffix = rng.next() % 3 == 0 ? "b" : "a"
            let zone = "battery-room-\(suffix)"
            var op = PropertyTests.randomOp(&rng, zone: suffix)
            switch rng.next() % 12 {
            case 0:
                op = .command(.test(zone: zone, uid: "1000", duration: .seconds(40), reason: "walk"))
            case 1:
                op = .command(.endTest(zone: zone, uid: "1000"))
            default:
                break
            }
            if rng.next() % 5 == 0 {
                let device = ["temp-\(suffix)1", "gas-\(suffix)", "smoke-\(suffix)", "bms-\(suffix)"][Int(rng.next() % 4)]
                history.append("poll \(device)")
                Self.poll(device, &skipping)
                Self.poll(device, &reference)
            } else {
                history.append(op.description)
                PropertyTests.apply(op, to: &skipping)
                PropertyTests.apply(op, to: &reference)
            }
            guard skipping.log == reference.log, skipping.actions == reference.actions,
                skipping.engine.status == reference.engine.status,
                Self.noLater(skipping.engine.nextDeadline(), than: reference.engine.nextDeadline())
            else {
                let diverged = zip(skipping.log, reference.log).first { $0 != $1 }
                let ours = String(describing: diverged?.0 ?? skipping.log.last)
                let theirs = String(describing: diverged?.1 ?? reference.log.last)
                let recent = history.suffix(8).joined(separator: "; ")
                Issue.record("seed \(seed) diverged after: \(recent)\nskipping: \(ours)\nreference: \(theirs)")
                return
            }
        }
        #expect(skipping.log.count > 20, "the run did something")
    }

    @Test("a reading of one device evaluates only the zones that use it")
    func onlyTouchedZones() {
        var rig = Rig()
        rig.tick()
        #expect(rig.engine.zoneDirty.allSatisfy { !$0 })
        rig.set("gas-a.offgas", .name("detected"))
        // Mark, not evaluate: ingest the reading alone and look before the cycle runs.
        var engine = rig.engine
        var out = Output()
        engine.ingest(
            Reading(source: Site.ref("gas-a.offgas"), time: rig.now, status: .value(.name("detected"))),
            slot: engine.slot(of: Site.ref("gas-a.offgas"))!.index, into: &out)
        #expect(engine.zoneDirty == [true, false], "zone b does not use gas-a")
        // A steady value changes no member's level: nothing to evaluate.
        var quiet = rig.engine
        quiet.ingest(
            Reading(source: Site.ref("gas-b.offgas"), time: rig.now, status: .value(.name("clear"))),
            slot: quiet.slot(of: Site.ref("gas-b.offgas"))!.index, into: &out)
        #expect(quiet.zoneDirty == [false, false])
    }
}

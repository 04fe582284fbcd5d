import Foundation
import Scenarios

/// `fw-bench takeover --firewatch PATH --work DIR [--trials N] [--site FILE]`: the hot-standby takeover section
/// alone, printed (`fw-bench all` puts the same section in results.md).
enum TakeoverBench {
    static func run(_ options: Options) async throws {
        try FileManager.default.createDirectory(atPath: options.string("work"), withIntermediateDirectories: true)
        print(await Orchestrator(options).takeoverSection())
    }
}

extension Orchestrator {
    /// `--trials N` takeovers (20 by default) of a pair on `--site` (the example site by default), each a fresh etcd
    /// member, simulator and pair of `firewatch run --gateway` processes; the owner killed as its countdown starts.
    func takeoverSection() async -> String {
        let trials = options.int("trials", 20)
        let siteFile = options.string("site", "examples/site.yaml")
        var text = "## Hot-standby takeover (owner killed → new owner)\n\n"
        guard EtcdCluster.findExecutable() != nil else {
            log("takeover: etcd is not installed, skipped")
            return text + "Not measured in this run: etcd is not installed (Debian's `etcd-server`, which `make bench`'s "
                + "`deps` target installs).\n"
        }
        // Short names: each gateway's control socket lives under the trial's folder (Unix sockets allow 107 bytes).
        let folder = work + "/tk"
        var owner: [Double] = []
        var write: [Double] = []
        var timing: TakeoverTrial.Timing?
        var failures: [String] = []
        var firstWrites: Set<String> = []
        let started = monotonicSeconds()
        for index in 1...max(trials, 1) {
            let directory = folder + "/\(index)"
            try? FileManager.default.removeItem(atPath: directory)
            let trial = TakeoverTrial(executable: options.string("firewatch"), siteFile: siteFile, directory: directory)
            do {
                let result = try await trial.run()
                timing = result.timing
                if let first = result.firstWrite { firstWrites.insert(first) }
                if let o = result.killToOwner { owner.append(o / .milliseconds(1)) }
                if let w = result.killToFirstWrite { write.append(w / .milliseconds(1)) }
                if result.passed {
                    try? FileManager.default.removeItem(atPath: directory)
                } else {
                    failures.append("trial \(index): \(result.problems.joined(separator: "; ")) (kept in \(directory))")
                }
                log(
                    "takeover \(index)/\(trials): kill → owner \(result.killToOwner.map { format($0 / .seconds(1), 2) } ?? "–") s, "
                        + "kill → first write \(result.killToFirstWrite.map { format($0 / .seconds(1), 2) } ?? "–") s "
                        + "(\(result.firstWrite ?? "no write"))\(result.passed ? "" : ": " + result.problems.joined(separator: "; "))")
            } catch {
                failures.append("trial \(index): \(error) (kept in \(directory))")
                log("takeover \(index)/\(trials) failed: \(error)")
            }
        }
        let elapsed = monotonicSeconds() - started
        guard let timing else {
            return text + "Failed in this run: no trial got as far as a takeover.\n\n"
                + failures.map { "- \($0)\n" }.joined()
        }
        let goal = timing.goal / .milliseconds(1)
        func seconds(_ ms: Double) -> String { format(ms / 1000, 2) + " s" }
        func row(_ name: String, _ values: [Double]) -> String {
            let sorted = values.sorted()
            let p99 = quantile(sorted, 0.99)
            let met = p99 <= goal
            let by = met || !p99.isFinite ? "" : " by \(seconds(p99 - goal))"
            return "| \(name) | \(sorted.count) | \(seconds(quantile(sorted, 0.5))) | \(seconds(p99)) "
                + "| \(seconds(sorted.last ?? .nan)) | \(verdict(met && p99.isFinite))\(by) |\n"
        }
        let poll = timing.pollInterval / .milliseconds(1)
        let longest = timing.longestWrite / .milliseconds(1)
        let within = timing.nextWithin / .milliseconds(1)
        text += """
            \(trials) trials on `\(siteFile)` (its abortable `suppress` delays cut to 500 ms), each a fresh etcd member,
            the simulator (in the bench's process) and `firewatch run --gateway gw-a`, then `gw-b`, all on 127.0.0.1 in
            real time. A fire is set on every fire-level source of the zone at 1 s; gw-a is killed (`kill -9`) the moment
            its alert log shows the pre-discharge countdown started. Kill → owner is until gw-b's `status` says `owner`
            (polled every 50 ms); kill → first write is until the simulator receives the first Modbus write after the
            kill. The lease is the shortest `firewatch check` accepts for the site: 3 × poll_interval + the longest
            command write window, in whole seconds.

            | | |
            | --- | ---: |
            | lease TTL | \(timing.ttl) s (3 × \(seconds(poll)) + \(seconds(longest)), rounded up) |
            | poll interval | \(seconds(poll)) |
            | goal: TTL + one poll | \(seconds(goal)) |
            | first write after the kill | \(firstWrites.sorted().joined(separator: ", ")) (its `within`: \(seconds(within))) |
            | real time | \(format(elapsed, 0)) s |

            | from the kill to | trials | p50 | p99 | max | p99 within the goal (\(seconds(goal))) |
            | --- | ---: | ---: | ---: | ---: | --- |

            """
        text += row("gw-b's status says owner", owner)
        text += row("gw-b's first Modbus write", write)
        text += """

            p99 is nearest rank (with \(trials) trials, the largest when there are at most 100). The new owner's first write also waits for its read-first
            check of the step the old owner may have begun (up to that step's `within`, \(seconds(within)) here), so
            kill → first write is expected ≈ TTL + within (≈ \(seconds(Double(timing.ttl) * 1000 + within))), above the goal.

            """
        if !failures.isEmpty {
            text += "\n\(failures.count) of \(trials) trials did not take over cleanly:\n\n" + failures.map { "- \($0)\n" }.joined()
        }
        return text
    }
}

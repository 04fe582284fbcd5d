extension Orchestrator {
    /// The sections after the poll loops and the alert log.
    func extraSections() throws -> [String] {
        var sections = wants("engine") ? [try engineSection()] : []
        sections.append(contentsOf: try daemonSections())
        if wants("campaign") { sections.append(campaignSection()) }
        if wants("month") {
            do {
                sections.append(try monthSection())
            } catch {
                log("month failed: \(error)")
                sections.append("## A quiet month: memory and restore (`long-quiet-month`)\n\nFailed in this run: \(error)\n")
            }
        }
        return sections
    }

    func engineSection() throws -> String {
        let modes = [
            ("quiet", "nothing changes, keyed readings (`evaluate(_:at:)`)"),
            ("slotted", "nothing changes, slots looked up once (`evaluate(slotted:at:)`)"),
            ("churn", "10 zones a cycle cross `alert` and 10 fall back (records every cycle)"),
        ]
        var text = """
            ## Engine: 1,000 zones × 10 signals

            `Engine.evaluate` with every reading of the site each cycle (12,000 readings: a 2oo3 temperature with
            rate of rise, 9 single-source signals), site time advancing 1 s a cycle, for \(String(seconds)) s.
            CPU ms per cycle is the figure to trust on a shared machine; cycles/s is wall time.

            | case | cycles/s | CPU ms per cycle | records per cycle |
            | --- | ---: | ---: | ---: |

            """
        for (mode, description) in modes {
            var rates: [Double] = []
            var cpu: [Double] = []
            var records: [Double] = []
            for _ in 1...reps {
                let figures = try parseFigures(
                    try Child.output([me, "engine", "--mode", mode, "--seconds", String(seconds)]))
                let cycles = figures["cycles"] ?? .nan
                rates.append(cycles / (figures["wall_s"] ?? .nan))
                cpu.append((figures["cpu_s"] ?? .nan) / cycles * 1e3)
                records.append((figures["records"] ?? .nan) / cycles)
            }
            log("engine \(mode): \(Spread(rates).text(0)) cycles/s, \(Spread(cpu).text(2)) ms CPU per cycle")
            text += "| \(mode): \(description) | \(groupedSpread(Spread(rates))) | \(Spread(cpu).text(2)) "
            text += "| \(format(Spread(records).median, 0)) |\n"
        }
        text += "\nAt `poll_interval: 1s` one cycle a second is needed; the margin is the ratio of the two.\n"
        return text
    }

    /// `firewatch campaign` (release build) on the example site: 1,000 incidents and 100 quiet days, two jobs.
    func campaignSection() -> String {
        let seed = "2026"
        let argv = [
            options.string("firewatch"), "campaign", "--site", "examples/site.yaml", "--incidents", "1000",
            "--quiet-days", "100", "--seed", seed, "--jobs", "2", "--json",
        ]
        let heading = "## Fault campaign: 1,000 incidents and 100 quiet days (`firewatch campaign`, seed \(seed))\n\n"
        let figures: [String: Double]
        do {
            figures = try parseFigures(try Child.output(argv, timeout: 3600))
        } catch {
            log("campaign failed: \(error)")
            return heading + "Failed in this run (a broken invariant exits 1 with its seed and reproduction): \(error)\n"
        }
        func f(_ key: String) -> Double { figures[key] ?? .nan }
        log("campaign: \(Int(f("isolated_before_runaway")))/\(Int(f("eligible"))) isolated before runaway, \(format(f("simulated_days_per_s"), 1)) days/s")
        return heading + """
            Randomized incidents and quiet days with faults, restarts, clock steps, reloads and operator commands on
            top, played in process on a virtual clock (README, "Fault campaign"); every invariant checked on every
            run. `\(argv.dropFirst().joined(separator: " "))`

            | figure | value |
            | --- | ---: |
            | runs that broke an invariant | \(format(f("runs_broken"), 0)) (goal 0) |
            | incidents isolated before runaway, of those the model gave a poll plus the isolate steps | \(format(f("isolated_before_runaway"), 0)) of \(format(f("eligible"), 0)) (goal: all) |
            | incidents that ran away, all | \(format(f("runaways"), 0)) of \(format(f("incidents"), 0)) |
            | first off-gas to isolated, p50 / p99 | \(format(f("offgas_to_isolated_p50_s"), 1)) s / \(format(f("offgas_to_isolated_p99_s"), 1)) s |
            | quiet days: simulated zone-years | \(format(f("zone_years"), 2)) |
            | quiet days: isolations / releases / power cuts | \(format(f("quiet_isolations"), 0)) / \(format(f("quiet_releases"), 0)) / \(format(f("quiet_power_cuts"), 0)) (goal: 0 releases, 0 power cuts) |
            | simulated days per second (2 jobs) | \(format(f("simulated_days_per_s"), 2)) (\(format(f("simulated_days"), 0)) days in \(format(f("wall_s"), 0)) s) |

            """
    }
}

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
        text += """

            One device changed: each evaluation is one device's poll (as the daemon makes them), walking through every
            device of the site once a second of site time; a gas detector's CO reading changes at every visit (under
            every threshold). The cost of a poll must not grow with the site (issue 18): a cycle evaluates only the
            zones an input changed for, and judges staleness for the sources read, the whole site only when one can
            have turned stale.

            | zones | devices | CPU µs per evaluation | evaluations/s |
            | ---: | ---: | ---: | ---: |

            """
        for zones in [10, 100, 1_000] {
            var cpu: [Double] = []
            var rates: [Double] = []
            for _ in 1...reps {
                let figures = try parseFigures(
                    try Child.output([
                        me, "engine", "--mode", "one-device", "--zones", String(zones), "--seconds", String(seconds),
                    ]))
                let evaluations = figures["cycles"] ?? .nan
                cpu.append((figures["cpu_s"] ?? .nan) / evaluations * 1e6)
                rates.append(evaluations / (figures["wall_s"] ?? .nan))
            }
            log("engine one-device, \(zones) zones: \(Spread(cpu).text(2)) µs CPU per evaluation")
            text += "| \(zones) | \(zones * 8) | \(Spread(cpu).text(2)) | \(groupedSpread(Spread(rates))) |\n"
        }
        return text
    }

    /// `firewatch campaign` (release build) on the example site: 1,000 incidents and 1,000 quiet days, two jobs; then
    /// 20 incidents cross-checked against real simulate and run processes.
    func campaignSection() -> String {
        let seed = "2026"
        let argv = [
            options.string("firewatch"), "campaign", "--site", "examples/site.yaml", "--incidents", "1000",
            "--quiet-days", "1000", "--seed", seed, "--jobs", "2", "--json",
        ]
        let heading = "## Fault campaign: 1,000 incidents and 1,000 quiet days (`firewatch campaign`, seed \(seed))\n\n"
        let figures: [String: Double]
        do {
            figures = try parseFigures(try Child.output(argv, timeout: 5400))
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
            | given the time but ran away: inhibited / restart / device fault / sensor fault / unexplained | \(["inhibited", "restart", "device_fault", "sensor_fault"].map { format(figures["missed_" + $0] ?? 0, 0) }.joined(separator: " / ")) / \(format(f("missed_unexplained"), 0)) (goal: 0 unexplained) |
            | first off-gas to isolated, p50 / p99 | \(format(f("offgas_to_isolated_p50_s"), 1)) s / \(format(f("offgas_to_isolated_p99_s"), 1)) s |
            | quiet days: simulated zone-years | \(format(f("zone_years"), 2)) |
            | quiet days: isolations / releases / power cuts | \(format(f("quiet_isolations"), 0)) / \(format(f("quiet_releases"), 0)) / \(format(f("quiet_power_cuts"), 0)) (goal: 0 releases, 0 power cuts) |
            | quiet-day isolations with fewer than two devices at alarm | \(format(f("quiet_isolations_one_source"), 0)) (goal 0; the example site votes off-gas and LFL on one detector per room) |
            | simulated days per second (2 jobs) | \(format(f("simulated_days_per_s"), 2)) (\(format(f("simulated_days"), 0)) days in \(format(f("wall_s"), 0)) s) |

            """ + crossCheckSection(seed: seed)
    }

    /// `firewatch campaign --cross-check`: 20 of the generator's incidents in process and as real processes.
    func crossCheckSection(seed: String) -> String {
        let argv = [
            options.string("firewatch"), "campaign", "--site", "examples/site.yaml", "--cross-check", "--incidents",
            "20", "--seed", seed, "--json",
        ]
        let heading = "\n### The same generator through real processes (`--cross-check`, seed \(seed))\n\n"
        let figures: [String: Double]
        do {
            figures = try parseFigures(try Child.output(argv, timeout: 3600))
        } catch {
            log("cross-check failed: \(error)")
            return heading + "Failed in this run (a disagreement exits 1 and keeps the run's folder): \(error)\n"
        }
        func f(_ key: String) -> Double { figures[key] ?? .nan }
        log("cross-check: \(Int(f("agreed")))/\(Int(f("compared"))) agree")
        return heading + """
            Each incident played in process and again by `firewatch simulate` and `firewatch run` processes at 20x,
            restarts as kill -9, reloads as SIGHUP (README, "Fault campaign"). `\(argv.dropFirst().joined(separator: " "))`

            | figure | value |
            | --- | ---: |
            | incidents compared / verdicts that agree | \(format(f("compared"), 0)) / \(format(f("agreed"), 0)) (goal: all) |
            | of them isolated / ran away / released | \(format(f("isolated"), 0)) / \(format(f("ran_away"), 0)) / \(format(f("released"), 0)) |
            | kill -9 restarts / SIGHUP reloads played | \(format(f("kills"), 0)) / \(format(f("reloads"), 0)) |
            | drawn past as within 30 s of a different verdict | \(format(f("too_close"), 0)) |
            | real time | \(format(f("wall_s"), 0)) s |

            """
    }
}

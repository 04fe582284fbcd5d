extension Orchestrator {
    /// The sections after the poll loops and the alert log.
    func extraSections() throws -> [String] {
        var sections = wants("engine") ? [try engineSection()] : []
        sections.append(contentsOf: try daemonSections())
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
}

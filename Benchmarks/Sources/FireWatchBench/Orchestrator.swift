import AlertLog
import Foundation

/// `fw-bench all`: runs every benchmark, prints the table and writes `results.md`.
///
/// Options: `--work DIR` (scratch files), `--c-client PATH`, `--python PATH` (the venv's interpreter),
/// `--py-client PATH`, `--firewatch PATH` (release build of the daemon), `--reps N`, `--seconds S` (per run),
/// `--out PATH` (results.md), `--command TEXT` (what was typed, for the record), `--trials N` (takeovers, 20).
struct Orchestrator {
    let options: Options
    let work: String
    let reps: Int
    let seconds: Double
    let me = selfPath()
    /// Figures one section hands to a later one.
    let carried = CarriedFigures()

    init(_ options: Options) {
        self.options = options
        work = options.string("work")
        reps = options.int("reps", 5)
        seconds = options.double("seconds", 2)
    }

    func run() async throws {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let started = Date()
        var sections: [String] = []
        log("machine: \(shell("nproc")) cores, \(cpuModel())")
        if wants("poll") { sections.append(try pollSection()) }
        if wants("alertlog") { sections.append(try alertLogSection()) }
        if wants("verify") { sections.append(try verifySection()) }
        sections.append(contentsOf: try extraSections())
        if wants("takeover") { sections.append(await takeoverSection()) }
        let elapsed = Date().timeIntervalSince(started)
        let document = header(started: started, elapsed: elapsed) + "\n" + sections.joined(separator: "\n")
        print("\n" + sections.joined(separator: "\n"))
        try document.write(toFile: options.string("out"), atomically: true, encoding: .utf8)
        log("wrote \(options.string("out")) (\(Int(elapsed)) s)")
    }

    /// `--only poll,engine,…` runs some sections (poll, alertlog, verify, engine, latency, scale, startup, campaign,
    /// month, takeover); default all.
    func wants(_ section: String) -> Bool {
        guard options.has("only") else { return true }
        return options.string("only").split(separator: ",").contains { $0 == section }
    }

    func log(_ message: String) {
        FileHandle.standardError.write(Data(("[bench] " + message + "\n").utf8))
    }

    // MARK: Machine

    func cpuModel() -> String {
        let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let line = info.split(separator: "\n").first { $0.hasPrefix("model name") }
        return line.map { $0.split(separator: ":", maxSplits: 1).last!.trimmingCharacters(in: .whitespaces) } ?? "?"
    }

    func header(started: Date, elapsed: Double) -> String {
        let date = ISO8601DateFormatter().string(from: started)
        let python = options.string("python")
        return """
            # FireWatch benchmarks

            Written by `make bench` (Benchmarks/README.md says what each figure is and how it is taken).
            Every figure is the **median (min–max)** of \(reps) repetitions; ratios are medians of the ratios
            taken within one round (all clients of a round run back to back against the same server), which
            cancels most of the drift of a shared machine.

            | | |
            | --- | --- |
            | date | \(date) (bench ran \(Int(elapsed)) s) |
            | command | `\(options.string("command", "make bench"))` |
            | machine | \(shell("nproc")) cores, \(cpuModel()), kernel \(shell("uname -r")), \
            \(shell("awk '/MemTotal/ {printf \"%.0f GiB\", $2/1048576}' /proc/meminfo")) |
            | swift | \(shell("swift --version 2>&1 | head -1")) |
            | libmodbus | \(shell("pkg-config --modversion libmodbus")) (Debian), C loop built with \
            \(shell("gcc --version | head -1")) -O2 |
            | pymodbus | \(shell("\(python) -c 'import pymodbus; print(pymodbus.__version__)'")) on \
            \(shell("\(python) --version")) |
            | load | `\(shell("cat /proc/loadavg"))` at the end (other work on the machine shows here) |

            """
    }

    // MARK: Poll throughput and CPU per request

    struct Contender {
        let name: String
        let argv: (_ port: Int, _ registers: Int) -> [String]
    }

    func pollSection() throws -> String {
        log("poll: starting the Modbus.Server process")
        let server = try Child.start([me, "serve"])
        defer { server.stop() }
        let line = server.readLine()
        guard line.hasPrefix("PORT "), let port = Int(line.dropFirst(5)) else {
            throw BenchError("server said \(line)")
        }
        let duration = String(seconds)
        let warmup = "500"
        let contenders = [
            Contender(name: "C loop (libmodbus)") { port, n in
                [options.string("c-client"), String(port), String(n), duration, warmup]
            },
            Contender(name: "Modbus.Client, executor preference") { port, n in
                [me, "client", "--port", String(port), "--registers", String(n), "--mode", "executor",
                 "--seconds", duration, "--warmup", warmup]
            },
            Contender(name: "Modbus.Client, plain await") { port, n in
                [me, "client", "--port", String(port), "--registers", String(n), "--mode", "await",
                 "--seconds", duration, "--warmup", warmup]
            },
            Contender(name: "pymodbus sync client") { port, n in
                [options.string("python"), options.string("py-client"), String(port), String(n), duration, warmup]
            },
        ]
        let sizes = [10, 125]
        // rate[size][contender][rep], cpu in µs per request likewise.
        var rate = [[[Double]]](repeating: [[Double]](repeating: [], count: contenders.count), count: sizes.count)
        var cpu = rate
        for rep in 1...reps {
            for (s, size) in sizes.enumerated() {
                for (c, contender) in contenders.enumerated() {
                    let figures = try parseFigures(try Child.output(contender.argv(port, size)))
                    let requests = figures["requests"] ?? 0
                    rate[s][c].append(requests / (figures["wall_s"] ?? .nan))
                    cpu[s][c].append((figures["cpu_s"] ?? .nan) / requests * 1e6)
                }
                log(
                    "poll rep \(rep)/\(reps), \(size) registers: "
                        + contenders.indices.map { "\(grouped(rate[s][$0].last!))/s \(format(cpu[s][$0].last!, 1))µs" }
                        .joined(separator: " | "))
            }
        }
        var text = """
            ## Poll throughput and CPU per request (one connection, loopback)

            Every client reads N holding registers back to back for \(duration) s after \(warmup) warm-up requests,
            against the same `Modbus.Server` in its own process. CPU is the client process's user+sys
            (`getrusage(RUSAGE_SELF)`, all threads) over the measured part, divided by the requests.

            | client | registers | requests/s | × C | CPU µs/request | × C | × pymodbus |
            | --- | ---: | ---: | ---: | ---: | ---: | ---: |

            """
        func ratios(_ values: [[Double]], _ c: Int, _ base: Int) -> Spread {
            Spread(zip(values[c], values[base]).map { $0 / $1 })
        }
        carried.cLoopCPU10 = Spread(cpu[0][0]).median
        for (s, size) in sizes.enumerated() {
            for c in contenders.indices {
                text += "| \(contenders[c].name) | \(size) | \(groupedSpread(Spread(rate[s][c]))) "
                text += "| \(format(ratios(rate[s], c, 0).median, 2)) | \(Spread(cpu[s][c]).text(1)) "
                text += "| \(format(ratios(cpu[s], c, 0).median, 2)) | \(format(ratios(cpu[s], c, 3).median, 2)) |\n"
            }
        }
        text += "\nGoals for the daemon's path (executor preference): throughput ≥ 0.9× C, CPU per request ≤ 1.3× C "
        text += "and ≤ 0.4× pymodbus.\n\n"
        for (s, size) in sizes.enumerated() {
            let throughput = ratios(rate[s], 1, 0).median
            let cpuC = ratios(cpu[s], 1, 0).median
            let cpuPy = ratios(cpu[s], 1, 3).median
            let cOverPy = ratios(cpu[s], 0, 3).median
            text += "- \(size) registers: throughput \(goal(throughput, atLeast: 0.9)) C; "
            text += "CPU \(goal(cpuC, atMost: 1.3)) C; CPU \(goal(cpuPy, atMost: 0.4)) pymodbus "
            text += "(the C loop itself: \(format(cOverPy, 2))× pymodbus).\n"
        }
        text += "\nWhat holds a missed goal back: Benchmarks/README.md, \"Reading the figures\".\n"
        return text
    }

    func groupedSpread(_ spread: Spread) -> String {
        "\(grouped(spread.median)) (\(grouped(spread.min))–\(grouped(spread.max)))"
    }

    func verdict(_ met: Bool) -> String { met ? "**met**" : "**missed**" }

    /// `0.62× (goal ≤ 0.40×: **missed** by 0.22×)`.
    func goal(_ value: Double, atMost limit: Double) -> String {
        let met = value <= limit
        let by = met ? "" : " by \(format(value - limit, 2))×"
        return "\(format(value, 2))× (goal ≤ \(format(limit, 2))×: \(verdict(met))\(by))"
    }

    func goal(_ value: Double, atLeast limit: Double) -> String {
        let met = value >= limit
        let by = met ? "" : " by \(format(limit - value, 2))×"
        return "\(format(value, 2))× (goal ≥ \(format(limit, 2))×: \(verdict(met))\(by))"
    }

    // MARK: Alert log

    func alertLogSection() throws -> String {
        var rates: [Double] = []
        var cpus: [Double] = []
        for rep in 1...reps {
            let figures = try parseFigures(
                try Child.output([me, "alertlog", "--dir", work, "--seconds", String(seconds)]))
            let records = figures["records"] ?? 0
            rates.append(records / (figures["wall_s"] ?? .nan))
            cpus.append((figures["cpu_s"] ?? .nan) / records * 1e6)
            log("alert log rep \(rep)/\(reps): \(grouped(rates.last!)) records/s")
        }
        let filesystem = shell("df -T \(work) | awk 'NR==2 {print $2\" on \"$1}'")
        return """
            ## Alert log: appends with fsync

            `AlertLogWriter.append` of a typical `step.started` record (hash chain, one `write` and one `fsync`
            each) for \(String(seconds)) s, to a fresh file under `Benchmarks/.work` (\(filesystem)).

            | figure | median (min–max) |
            | --- | ---: |
            | records/s, each durable | \(groupedSpread(Spread(rates))) |
            | CPU µs per record | \(Spread(cpus).text(1)) |

            """
    }
}

/// Figures one section of the bench hands to a later one (the bench runs its sections one after another).
final class CarriedFigures {
    /// The C loop's CPU µs per request of 10 registers: the yardstick for the daemon's CPU per request.
    var cLoopCPU10: Double?
}

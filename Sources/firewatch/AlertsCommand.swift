import AlertLog
import ArgumentParser
import FireSafety
import Gateway
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Set by SIGINT/SIGTERM while following; the poll loop and interrupted writes look at it.
/// An atomic store is async-signal-safe, which is all a signal handler may do.
private let stopRequested = Atomic<Bool>(false)

/// Where the alert log is: shared by `alerts` and `alerts verify`.
struct AlertLogOptions: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp("The alert log (live file; rotated NAME.1… are found beside it).", valueName: "file"))
    var log: String?

    @Option(name: .long, help: ArgumentHelp("Site file whose `alert_log:` names the log.", valueName: "site.yaml"))
    var config: String?

    func resolve() throws(AlertReadError) -> AlertLogPath.Resolved {
        try AlertLogPath.resolve(log: log, config: config)
    }
}

/// `firewatch alerts`: read, filter and follow the alert log.
struct AlertsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alerts",
        abstract: "Reads, filters and follows the alert log (across rotation, like tail -F).",
        discussion: """
            The log is --log FILE, else `alert_log:` from --config, else \(AlertLogPath.defaultPath); rotated \
            files NAME.1 (newest) … NAME.k beside it are read too.

            Human lines show local time, severity (coloured on a terminal unless NO_COLOR is set), zone and \
            message. --json passes records through byte for byte, one per line, for jq.

            Exit codes: 0 ok, 64 usage, 66 log file missing, 78 unusable site file.
            """,
        subcommands: [AlertsVerifyCommand.self]
    )

    @OptionGroup var location: AlertLogOptions

    @Flag(name: [.short, .long], help: "Keep printing records as they are appended; survives rotation and truncation.")
    var follow = false

    @Option(name: [.customShort("n"), .customLong("lines")], help: "Only the last N matching records.")
    var lines: Int?

    @Option(help: ArgumentHelp("Records at or after this: a duration back from now (10m, 2h, 1d) or an RFC 3339 time."))
    var since: String?

    @Option(help: ArgumentHelp("Records at or before this: a duration back from now or an RFC 3339 time."))
    var until: String?

    @Option(help: ArgumentHelp("Only this zone (repeat for several).", valueName: "zone"))
    var zone: [String] = []

    @Option(help: ArgumentHelp("Only records about this device.", valueName: "device"))
    var device: String?

    @Option(
        help: ArgumentHelp(
            "Only records at least this severe: info, trouble, alert, alarm, fire.", valueName: "severity"))
    var minSeverity: String?

    @Option(help: ArgumentHelp("Only events matching this glob, e.g. 'step.*'.", valueName: "pattern"))
    var event: String?

    @Flag(help: "Print records exactly as written, one JSON object per line.")
    var json = false

    @Flag(help: "Per zone: current state, time in each state, counts by severity, last fire/alarm.")
    var summary = false

    func validate() throws {
        if let lines, lines < 0 { throw ValidationError("-n must be 0 or more, not \(lines)") }
        if let minSeverity, Severity(name: minSeverity) == nil {
            throw ValidationError(
                "--min-severity must be one of info, trouble, alert, alarm, fire; not '\(minSeverity)'")
        }
        if follow && until != nil {
            throw ValidationError("--until cannot be used with --follow (a follow has no end)")
        }
        if follow && summary { throw ValidationError("--summary cannot be used with --follow") }
        if summary && lines != nil {
            throw ValidationError("--summary works on a time window (--since/--until), not -n")
        }
        for (name, value) in [("--since", since), ("--until", until)] {
            if let value, AlertTimeBound.parse(value, now: 0) == nil {
                throw ValidationError("\(name) '\(value)' is neither a duration (10m, 2h, 1d) nor an RFC 3339 time")
            }
        }
    }

    func run() throws {
        signal(SIGPIPE, SIG_IGN)  // a closed pipe then shows up as EPIPE, which ends the command quietly
        let now = currentMillis()
        let filter = AlertFilter(
            zones: zone, device: device, minSeverity: minSeverity.flatMap(Severity.init(name:)), eventPattern: event)
        var query = AlertQuery(
            filter: filter, limit: lines,
            since: since.flatMap { AlertTimeBound.parse($0, now: now) },
            until: until.flatMap { AlertTimeBound.parse($0, now: now) })
        // `-f` alone shows the last 10 records first, as `tail -f` and `journalctl -f` do.
        if follow && query.limit == nil && query.since == nil { query.limit = 10 }

        let warnings = AlertWarnings(sink: writeStderr)
        defer { warnings.finish() }
        let output = AlertOutput(fd: 1, interrupted: { stopRequested.load(ordering: .relaxed) })
        let formatter = AlertFormatter(
            colour: AlertFormatter.wantsColour(isTerminal: isatty(1) == 1, environment: environment()))
        let print: (AlertLine) throws -> Void = { line in
            if json { try output.writeLine(line.bytes) } else { try output.writeLine(formatter.format(line)) }
        }

        do {
            let resolved = try location.resolve()
            let set = AlertLogSet.discover(livePath: resolved.path)
            if summary {
                try runSummary(set, resolved, query, warnings, output, formatter, end: query.until ?? now)
                return
            }
            if follow { installStopHandlers() }
            var start: AlertReader.FollowPoint?
            do {
                let reader = try AlertReader(set: set, warnings: warnings, origin: resolved.origin)
                start = try reader.read(query, leaveTornLineForFollow: follow, emit: print)
            } catch let error as AlertReadError where error.code == .logMissing && follow {
                warnings.note("firewatch alerts: \(error.message)")
            }
            try output.flush()
            guard follow else { return }
            let follower = AlertFollower(
                path: resolved.path, file: start?.file, offset: start?.offset ?? 0, warnings: warnings)
            try follower.run(
                shouldStop: { stopRequested.load(ordering: .relaxed) || readerWentAway(fd: 1) },
                pause: { usleep(200_000) },  // 5 polls a second: prompt for people, nothing for the machine
                emit: { line in if filter.matches(line) { try print(line) } },
                batchDone: { try output.flush() })
        } catch let error as AlertReadError {
            writeStderr("firewatch alerts: \(error)")
            throw ExitCode(error.exitCode)
        } catch is AlertOutput.Closed {
            return  // the reader went away (`| head`) or we were interrupted: not an error
        }
    }

    private func runSummary(
        _ set: AlertLogSet, _ resolved: AlertLogPath.Resolved, _ query: AlertQuery, _ warnings: AlertWarnings,
        _ output: AlertOutput, _ formatter: AlertFormatter, end: Int64
    ) throws {
        let reader = try AlertReader(set: set, warnings: warnings, origin: resolved.origin)
        // Only the zone narrows what is read: a state change filtered out of the counts still moves the clock.
        var scope = query
        scope.filter = AlertFilter(zones: query.filter.zones)
        var summary = AlertSummary()
        summary.windowStart = query.since
        try reader.read(scope) { line in summary.add(line, counted: query.filter.matches(line)) }
        let zones = summary.finish(end: end)
        let lines = json ? AlertSummary.renderJSON(zones) : AlertSummary.render(zones, formatter: formatter)
        for line in lines { try output.writeLine(line) }
        try output.flush()
    }
}

/// `firewatch alerts verify`: checks the hash chain across rotated files.
struct AlertsVerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Checks the alert log's hash chain and sequence numbers across rotated files.",
        discussion: """
            Exit codes: 0 intact (prints the number of records checked), 65 a broken, missing or reordered
            line (named as file:line with the reason), 66 log file missing, 78 unusable site file.
            """
    )

    @OptionGroup var location: AlertLogOptions

    func run() throws {
        let warnings = AlertWarnings(sink: writeStderr)
        do {
            let resolved = try location.resolve()
            let report = try AlertChainVerifier.verify(
                AlertLogSet.discover(livePath: resolved.path), warnings: warnings)
            switch report {
            case .intact(let records, let files, let anchor):
                let output = AlertOutput(fd: 1)
                try output.writeLine(
                    "ok: \(records) records checked in \(files) file\(files == 1 ? "" : "s"); chain \(anchor)")
                try output.flush()
            case .broken(let location, let reason, let before):
                writeStderr("\(location): \(reason)")
                writeStderr("firewatch alerts verify: chain broken (\(before) records before it checked out)")
                throw ExitCode(65)
            }
        } catch let error as AlertReadError {
            writeStderr("firewatch alerts verify: \(error)")
            throw ExitCode(error.exitCode)
        } catch is AlertOutput.Closed {
            return
        }
    }
}

private func writeStderr(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

private func currentMillis() -> Int64 {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Int64(now.tv_sec) * 1000 + Int64(now.tv_nsec) / 1_000_000
}

private func environment() -> [String: String] {
    var result: [String: String] = [:]
    for key in ["NO_COLOR", "TERM"] {
        if let value = getenv(key) { result[key] = String(cString: value) }
    }
    return result
}

/// Whether the read end of a pipe on `fd` was closed. A quiet log writes nothing for hours, so waiting for
/// EPIPE would keep `firewatch alerts -f | grep …` alive long after the grep is gone.
private func readerWentAway(fd: Int32) -> Bool {
    var entry = pollfd(fd: fd, events: 0, revents: 0)
    guard poll(&entry, 1, 0) == 1 else { return false }
    return entry.revents & Int16(POLLERR | POLLHUP) != 0
}

/// SIGINT/SIGTERM end a follow cleanly (exit 0). No SA_RESTART, so a write blocked on a full pipe returns EINTR.
private func installStopHandlers() {
    var action = sigaction()
    #if canImport(Glibc)
        action.__sigaction_handler.sa_handler = { _ in stopRequested.store(true, ordering: .relaxed) }
    #else
        action.__sigaction_u.__sa_handler = { _ in stopRequested.store(true, ordering: .relaxed) }
    #endif
    sigemptyset(&action.sa_mask)
    action.sa_flags = 0
    sigaction(SIGINT, &action, nil)
    sigaction(SIGTERM, &action, nil)
}

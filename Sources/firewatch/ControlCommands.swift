import AlertLog
import ArgumentParser
import FireSafety
import Foundation
import Gateway
import SiteConfig

/// Where the daemon's control socket is: `--socket`, else `control_socket:` of `--config`, else the default.
struct ControlSocketOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("The daemon's control socket.", valueName: "path"))
    var socket: String?

    @Option(
        name: .long, help: ArgumentHelp("Site file whose `control_socket:` names the socket.", valueName: "site.yaml"))
    var config: String?

    func path() throws -> String {
        if let socket { return socket }
        guard let config else { return ControlClient.defaultSocketPath }
        do {
            return try SiteLoader().load(path: config).controlSocket
        } catch {
            for problem in error.errors { stderrLine(problem.description) }
            stderrLine("cannot find the control socket: \(config) does not load; pass --socket PATH instead")
            throw ExitCode(78)
        }
    }

    /// Sends `request`, prints the answer's message (or the failure) and exits as CONTRACT.md says: 69 when the
    /// daemon is not running, 1 when it refused.
    func send(_ request: ControlRequest, timeout: Duration = .seconds(10)) async throws -> ControlResponse {
        let path = try path()
        let response: ControlResponse
        do {
            response = try await ControlClient.send(request, socketPath: path, timeout: timeout)
        } catch {
            stderrLine("firewatch: \(error.message)")
            throw ExitCode(error.exitCode)
        }
        guard response.ok else {
            stderrLine("firewatch: \(request.command) refused: \(response.message)")
            throw ExitCode(1)
        }
        return response
    }
}

/// `firewatch status [--json]`.
struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the running daemon's zones (state, overlays, causes, running step) and devices.",
        discussion: "Exit codes: 0 ok, 1 failure, 69 the daemon is not running.")

    @OptionGroup var socket: ControlSocketOptions

    @Flag(name: .long, help: "Print the status as one JSON object.")
    var json = false

    func run() async throws {
        let response = try await socket.send(.status)
        guard let data = response.data else {
            print(response.message)
            return
        }
        if json {
            print(JSONWriter.serialize(data))
        } else if let status = DaemonStatus(json: data) {
            print(status.rendered())
        } else {
            print(response.message)
        }
    }
}

/// `firewatch ack ZONE`.
struct AckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ack", abstract: "Acknowledge a zone: silence reminders of its current state (the latch stays).")
    @Argument(help: "The zone.") var zone: String
    @OptionGroup var socket: ControlSocketOptions
    func run() async throws { print(try await socket.send(.ack(zone: zone)).message) }
}

/// `firewatch reset ZONE`.
struct ResetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reset",
        abstract: "Clear a zone's latched alarm or fire; refused (exit 1) while the cause is still present.")
    @Argument(help: "The zone.") var zone: String
    @OptionGroup var socket: ControlSocketOptions
    func run() async throws { print(try await socket.send(.reset(zone: zone)).message) }
}

/// `firewatch abort ZONE`.
struct AbortCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "abort",
        abstract: "Stop a zone's pre-discharge countdown; the zone is held isolated until `resume` or a reset.")
    @Argument(help: "The zone.") var zone: String
    @OptionGroup var socket: ControlSocketOptions
    func run() async throws { print(try await socket.send(.abort(zone: zone)).message) }
}

/// `firewatch resume ZONE`.
struct ResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume",
        abstract: "Take back an accepted abort: the zone's countdown restarts from its full duration.",
        discussion: "Refused (exit 1) when the zone is not aborted, while its panel's abort switch is held, or while "
            + "it is inhibited.")
    @Argument(help: "The zone.") var zone: String
    @OptionGroup var socket: ControlSocketOptions
    func run() async throws { print(try await socket.send(.resume(zone: zone)).message) }
}

/// `firewatch inhibit ZONE --for 2h --reason TEXT`.
struct InhibitCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inhibit",
        abstract: "Hold a zone's actuation for a while (detection and records go on), with a reason that is logged.")
    @Argument(help: "The zone.") var zone: String
    @Option(name: .customLong("for"), help: ArgumentHelp("How long: 30m, 2h, 1d (at most 7d).", valueName: "duration"))
    var duration: String
    @Option(help: "Why; recorded in the alert log.") var reason: String
    @OptionGroup var socket: ControlSocketOptions

    func validate() throws {
        guard let parsed = DurationText.parse(duration), parsed > .zero else {
            throw ValidationError("--for must be a duration like 30m, 2h or 1d, not '\(duration)'")
        }
        if reason.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--reason must say why the zone is inhibited")
        }
    }

    func run() async throws {
        let parsed = DurationText.parse(duration) ?? .zero
        print(try await socket.send(.inhibit(zone: zone, duration: parsed, reason: reason)).message)
    }
}

/// `firewatch enable ZONE`.
struct EnableCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "enable", abstract: "End a zone's inhibit early; held procedures start if still latched.")
    @Argument(help: "The zone.") var zone: String
    @OptionGroup var socket: ControlSocketOptions
    func run() async throws { print(try await socket.send(.enable(zone: zone)).message) }
}

/// `firewatch test ZONE --for 1h --reason TEXT`, `firewatch test ZONE --end`.
struct WalkTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Walk-test a zone: detection and notifications go on, marked TEST; nothing is written and no step runs.",
        discussion: """
            While a zone is in test its signals are judged as usual, every record carries "test": true and your \
            uid, and every notification starts with TEST; no step of its procedures runs, so nothing is written \
            to any device and no `run` step runs. The zone is trouble meanwhile; other zones are not affected. \
            The test ends by itself at the deadline, or with --end: what it latched is cleared and the zone \
            judges its readings afresh (a signal still at alarm then acts, as any alarm). Refused while the zone \
            has anything latched or under way. Exit codes: 0 ok, 1 refused, 69 the daemon is not running.
            """)
    @Argument(help: "The zone.") var zone: String
    @Option(name: .customLong("for"), help: ArgumentHelp("How long: 30m, 1h (at most 8h; test again to extend).", valueName: "duration"))
    var duration: String?
    @Option(help: "What the test is for; recorded in the alert log.") var reason: String?
    @Flag(help: "End the zone's walk test now.") var end = false
    @OptionGroup var socket: ControlSocketOptions

    func validate() throws {
        if end {
            guard duration == nil, reason == nil else { throw ValidationError("--end takes no --for or --reason") }
            return
        }
        guard let duration else { throw ValidationError("say how long with --for (e.g. --for 1h), or end a test with --end") }
        guard let parsed = DurationText.parse(duration), parsed > .zero else {
            throw ValidationError("--for must be a duration like 30m or 1h, not '\(duration)'")
        }
        guard parsed <= ControlRequest.maxTest else { throw ValidationError("--for is at most 8h; test again to extend") }
        guard let reason, !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ValidationError("--reason must say what the walk test is for")
        }
    }

    func run() async throws {
        if end {
            print(try await socket.send(.endTest(zone: zone)).message)
            return
        }
        let parsed = duration.flatMap { DurationText.parse($0) } ?? .zero
        print(try await socket.send(.test(zone: zone, duration: parsed, reason: reason ?? "")).message)
    }
}

/// `firewatch notify test [CHANNEL]`.
struct NotifyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "notify", abstract: "Work with the running daemon's notification channels.",
        subcommands: [NotifyTestCommand.self])
}

struct NotifyTestCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Ask the running daemon to send a TEST message on each channel (or one) and say which got through.",
        discussion: """
            The daemon logs `notify.test` with your uid, then sends it once on each channel, behind what is queued \
            there, and prints per channel `delivered` or why not. A channel that fails is also a `notify.failed` \
            (trouble), sent on the other channels. Exit codes: 0 every channel delivered, 1 any failed or an \
            unknown channel, 69 the daemon is not running.
            """)

    @Argument(help: "One channel of the site's `notify:`; every channel when omitted.")
    var channel: String?

    @OptionGroup var socket: ControlSocketOptions

    func run() async throws {
        let path = try socket.path()
        let response: ControlResponse
        do {
            // Each channel may take its whole timeout (and what is queued ahead of the test).
            response = try await ControlClient.send(.notifyTest(channel: channel), socketPath: path, timeout: .seconds(120))
        } catch {
            stderrLine("firewatch: \(error.message)")
            throw ExitCode(error.exitCode)
        }
        guard response.ok || response.error == "not_delivered" else {
            stderrLine("firewatch: notify test refused: \(response.message)")
            throw ExitCode(1)
        }
        print(response.message)
        if !response.ok { throw ExitCode(1) }
    }
}

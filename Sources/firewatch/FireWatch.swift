import ArgumentParser
import Gateway

/// The `firewatch` command: the daemon and the tools around it.
@main
struct FireWatch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "firewatch",
        abstract: "Watches lithium-ion battery rooms over Modbus/TCP and acts before a fire: detect, isolate, suppress.",
        discussion: """
            Exit codes: 0 ok, 1 runtime failure, 64 usage, 65 bad data, 66 alert log missing, \
            69 daemon or device unreachable, 78 bad configuration.
            """,
        version: BuildInfo.version,
        subcommands: [
            RunCommand.self, CheckCommand.self, ReadCommand.self, AlertsCommand.self, StatusCommand.self,
            AckCommand.self, ResetCommand.self, AbortCommand.self, ResumeCommand.self, InhibitCommand.self,
            EnableCommand.self, WalkTestCommand.self, NotifyCommand.self,
            SimulateCommand.self, DemoCommand.self, CampaignCommand.self,
        ]
    )
}

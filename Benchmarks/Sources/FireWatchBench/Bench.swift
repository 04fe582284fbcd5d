/// The entry point: `fw-bench <verb> --option value …`. `make bench` runs `fw-bench all`; the other verbs are
/// the pieces it starts as separate processes (each measured by its own getrusage).
@main
enum Bench {
    static func main() async throws {
        let arguments = CommandLine.arguments
        guard arguments.count >= 2 else { die("usage: fw-bench all|serve|client|alertlog|engine|takeover … (see README.md)") }
        let options = Options(arguments.dropFirst(2))
        do {
            try await run(arguments[1], options)
        } catch {
            die("\(arguments[1]): \(error)")
        }
    }

    static func run(_ verb: String, _ options: Options) async throws {
        switch verb {
        case "serve": try Serve.run(options)
        case "client": try await PollClient.run(options)
        case "alertlog": try AlertLogBench.run(options)
        case "biglog": try BigLog.run(options)
        case "engine": EngineBench.run(options)
        case "sites": try SiteFiles.check(options)
        case "month": try await MonthBench.run(options)
        case "takeover": try await TakeoverBench.run(options)
        case "all": try await Orchestrator(options).run()
        default: die("unknown verb \(verb)")
        }
    }
}

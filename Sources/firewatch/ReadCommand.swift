import AlertLog
import ArgumentParser
import FireSafety
import Foundation
import Gateway
import Modbus
import SiteConfig

/// `firewatch read HOST:PORT --profile P`: one read of every point of a device, decoded with its profile.
struct ReadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Read every point of a device once and decode it with a profile (never writes).",
        discussion: """
            P is a profile file (ending in .yaml) or kind/name, looked up in ./devices/ and then in
            FireWatch's own devices/ folder (\(ProfileLocator.environmentVariable) overrides where that is).
            Prints each point's name, raw registers in hex, decoded value, unit and validity; a value
            outside the profile's range is shown as invalid. --all-orders adds, under every 32-bit point,
            its registers decoded in all four word orders (the profile's marked, those inside the point's
            range noted), to pick `word_order` by looking. Exit codes: 0 every point read, 1 some
            requests failed, 64 usage, 69 device unreachable, 78 bad profile.
            """
    )

    @Argument(help: "The device, HOST:PORT (IPv6 as [ADDR]:PORT).")
    var endpoint: String

    @Option(name: .long, help: "Profile file or kind/name.")
    var profile: String

    @Option(name: .long, help: "Modbus unit id (0-255).")
    var unit: Int = 1

    @Option(name: .long, help: "Response timeout per request, e.g. 500ms or 2s.")
    var timeout: String = "1s"

    @Flag(name: .long, help: "Print JSON instead of a table.")
    var json = false

    @Flag(name: .long, help: "Show every 32-bit point decoded in all four word orders (ABCD, CDAB, BADC, DCBA).")
    var allOrders = false

    func validate() throws {
        guard HostPort(parsing: endpoint) != nil else {
            throw ValidationError("'\(endpoint)' is not HOST:PORT, e.g. 127.0.0.1:502")
        }
        guard (0...255).contains(unit) else { throw ValidationError("--unit must be 0…255, not \(unit)") }
        guard Duration(configText: timeout) != nil else {
            throw ValidationError("--timeout '\(timeout)' is not a duration like 500ms or 2s")
        }
    }

    func run() async throws {
        let target = HostPort(parsing: endpoint)!
        let loaded: (DeviceProfile, String)
        do {
            loaded = try Self.loadProfile(profile)
        } catch {
            for problem in error.errors { printError(problem.description) }
            throw ExitCode(78)
        }
        let (deviceProfile, path) = loaded
        let client = Client(
            host: target.host, port: target.port, unit: UInt8(unit),
            responseTimeout: Duration(configText: timeout)!, reconnect: .immediate)
        let result = await DeviceReader.readAll(client: client, plan: ReadPlan(points: deviceProfile.points))
        await client.close()

        if result.unreachable {
            printError("error: \(target) unit \(unit) is unreachable: \(result.failures[0].error)")
            throw ExitCode(69)
        }
        let report = Report(
            target: target, unit: unit, profilePath: path, profile: deviceProfile, result: result,
            allOrders: allOrders)
        print(json ? report.json() : report.table())
        for failure in result.failures { printError("error: \(failure.request): \(failure.error)") }
        if result.unreachable { throw ExitCode(69) }
        if !result.failures.isEmpty { throw ExitCode(1) }
    }

    /// A profile file, or `kind/name` from ./devices then the shipped folder.
    static func loadProfile(_ reference: String) throws(ConfigErrors) -> (DeviceProfile, String) {
        if ProfileLocator.isFileReference(reference) {
            return (try ProfileLoader.load(path: reference), reference)
        }
        let shipped = ProfileLocator.shippedDevicesDirectory()
        let locator = ProfileLocator(
            siteDirectory: FileManager.default.currentDirectoryPath, shipped: shipped)
        guard ProfileLocator.isKindName(reference), let found = locator.locate(reference) else {
            let hint =
                Suggestion.forProfile(reference, in: locator.available())
                + (shipped == nil ? "; set \(ProfileLocator.environmentVariable) to FireWatch's devices/ folder" : "")
            throw ConfigErrors([
                ConfigError(
                    file: reference, line: 0, column: 0, field: "--profile",
                    message: "no profile '\(reference)' in \(locator.folders.map(\.path).joined(separator: ", "))",
                    hint: hint)
            ])
        }
        return (try ProfileLoader.load(path: found.path), found.path)
    }
}

/// Writes a line to stderr (people's messages; stdout stays for results).
private func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

extension ReadCommand {
    /// What `firewatch read` prints, as a table for people or JSON for programs.
    struct Report {
        let target: HostPort
        let unit: Int
        let profilePath: String
        let profile: DeviceProfile
        let result: DeviceReadResult
        var allOrders = false

        /// A 32-bit point's registers in each word order, scaled as the profile scales them (nil: not decodable).
        static func everyOrder(_ raw: [UInt16], _ point: PointSpec) -> [(order: WordOrder, value: Double?)]? {
            guard point.type.width == 2, raw.count == 2 else { return nil }
            return WordOrder.allCases.map { order in
                let number = try? Codec.decodeRaw(raw[...], as: point.type, order: order)
                let value = number.map { Codec.scaled($0, scale: point.scale, offset: point.offset) }
                return (order, value.flatMap { $0.isFinite ? $0 : nil })  // a float32's NaN or ∞ is no reading
            }
        }

        /// `word orders: ABCD 1234.5 (profile, in range) · CDAB …` under a 32-bit point's row.
        static func ordersLine(_ raw: [UInt16], _ point: PointSpec) -> String? {
            guard let orders = everyOrder(raw, point) else { return nil }
            let shown = orders.map { order, value -> String in
                var notes: [String] = []
                if order == point.wordOrder { notes.append("profile") }
                if let value, let range = point.range, range.contains(value) { notes.append("in range") }
                let text = value.map { Value.number($0).description } ?? "not a number"
                return "\(order.rawValue) \(text)" + (notes.isEmpty ? "" : " (\(notes.joined(separator: ", ")))")
            }
            return "  word orders: " + shown.joined(separator: " · ")
        }

        func hex(_ raw: [UInt16], table: Table) -> String {
            if table.isBits { return raw.map(String.init).joined(separator: " ") }
            return raw.map { "0x" + String(format: "%04X", $0) }.joined(separator: " ")
        }

        func shown(_ reading: PointReading, _ point: PointSpec) -> String {
            guard let value = reading.value else { return "-" }
            if point.type == .bits {
                let set = reading.bits.filter(\.value).map(\.key).sorted {
                    (point.bitNumber(named: $0) ?? 0) < (point.bitNumber(named: $1) ?? 0)
                }
                return set.isEmpty ? "(none set)" : set.joined(separator: ",")
            }
            return value.description
        }

        func table() -> String {
            var rows: [[String]] = [["point", "table", "address", "raw", "value", "unit", "validity"]]
            let byName = Dictionary(result.readings.map { ($0.point, $0) }, uniquingKeysWith: { a, _ in a })
            for point in profile.points {
                guard let reading = byName[point.name] else {
                    rows.append([
                        point.name, point.table.rawValue, String(point.address), "-", "-", point.unit ?? "", "unread",
                    ])
                    continue
                }
                rows.append([
                    point.name, point.table.rawValue, String(point.address), hex(reading.raw, table: point.table),
                    shown(reading, point), point.unit ?? "", reading.validity.description,
                ])
                if allOrders, let line = Self.ordersLine(reading.raw, point) { rows.append([line]) }
            }
            let widths = (0..<rows[0].count).map { column in
                rows.filter { $0.count > 1 }.map { $0[column].count }.max() ?? 0
            }
            var lines = ["\(profile.name) at \(target) unit \(unit) (profile \(profilePath))"]
            for row in rows {
                if row.count == 1 {
                    lines.append(row[0])
                    continue
                }
                lines.append(
                    zip(row, widths).map { $0.0 + String(repeating: " ", count: $0.1 - $0.0.count) }.joined(
                        separator: "  "
                    )
                    .trimmingCharacters(in: .whitespaces))
            }
            let requests = result.plan.requests
            lines.append("\(requests.count) requests: \(requests.map(\.description).joined(separator: ", "))")
            return lines.joined(separator: "\n")
        }

        struct JSONPoint: Encodable {
            var name: String
            var table: String
            var address: Int
            var type: String
            var raw: [UInt16]
            var value: JSONValue?
            var bits: [String: Bool]?
            var unit: String?
            var valid: Bool
            var validity: String
            /// With --all-orders, a 32-bit point's value in each word order (null: not a number).
            var orders: [String: Double?]?
        }

        enum JSONValue: Encodable {
            case number(Double), name(String), flag(Bool)
            func encode(to encoder: Encoder) throws {
                var container = encoder.singleValueContainer()
                switch self {
                case .number(let value): try container.encode(value)
                case .name(let value): try container.encode(value)
                case .flag(let value): try container.encode(value)
                }
            }
        }

        struct JSONReport: Encodable {
            var device: String
            var unit: Int
            var profile: String
            var points: [JSONPoint]
            var errors: [String]
        }

        func json() -> String {
            let byName = Dictionary(result.readings.map { ($0.point, $0) }, uniquingKeysWith: { a, _ in a })
            let points = profile.points.compactMap { point -> JSONPoint? in
                guard let reading = byName[point.name] else { return nil }
                let value: JSONValue? = reading.value.map {
                    switch $0 {
                    case .number(let number): return .number(number)
                    case .name(let name): return .name(name)
                    case .flag(let flag): return .flag(flag)
                    }
                }
                return JSONPoint(
                    name: point.name, table: point.table.rawValue, address: point.address, type: point.type.rawValue,
                    raw: reading.raw, value: value, bits: point.type == .bits ? reading.bits : nil, unit: point.unit,
                    valid: reading.isValid, validity: reading.validity.description,
                    orders: allOrders
                        ? Self.everyOrder(reading.raw, point).map {
                            Dictionary(uniqueKeysWithValues: $0.map { ($0.order.rawValue, $0.value) })
                        } : nil)
            }
            let report = JSONReport(
                device: target.description, unit: unit, profile: profilePath, points: points,
                errors: result.failures.map { "\($0.request): \($0.error)" })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            guard let data = try? encoder.encode(report), let text = String(data: data, encoding: .utf8) else {
                return "{}"
            }
            return text
        }
    }
}

import FireSafety
import Modbus

/// Reads and validates device profiles (`devices/<kind>/<name>.yaml`).
public enum ProfileLoader {
    static let profileFields = [
        "name", "source", "modeled", "modeled_on", "notes", "byte_order", "max_gap", "points", "commands",
    ]
    static let pointFields = [
        "table", "address", "type", "word_order", "scale", "offset", "unit", "range", "bit", "bits", "values",
        "ordered", "description", "simulate", "role", "fault_values",
    ]
    static let commandFields = ["table", "address", "value", "verify", "description", "simulate", "readback"]
    static let verifyFields = ["point", "equals", "within"]
    /// How long a verify waits when the profile does not say.
    public static let defaultVerifyWithin = Duration.seconds(2)

    /// Loads one profile file. `displayName` is what errors print as the file (defaults to `path`).
    public static func load(path: String, displayName: String? = nil) throws(ConfigErrors) -> DeviceProfile {
        let diagnostics = Diagnostics()
        let profile = load(path: path, displayName: displayName, diagnostics: diagnostics)
        guard let profile, diagnostics.isEmpty else { throw ConfigErrors(diagnostics.sorted) }
        return profile
    }

    /// Parses profile text (tests, and profiles embedded elsewhere).
    public static func parse(text: String, file: String) throws(ConfigErrors) -> DeviceProfile {
        let diagnostics = Diagnostics()
        let profile = YAMLSource.parse(text: text, file: file, diagnostics: diagnostics).flatMap {
            parse($0.located(diagnostics))
        }
        guard let profile, diagnostics.isEmpty else { throw ConfigErrors(diagnostics.sorted) }
        return profile
    }

    static func load(path: String, displayName: String?, diagnostics: Diagnostics) -> DeviceProfile? {
        guard let source = YAMLSource.load(path: path, displayName: displayName, diagnostics: diagnostics) else {
            return nil
        }
        return parse(source.located(diagnostics))
    }

    /// Parses and validates; returns a profile when the structure could be read (errors may still
    /// have been reported, so callers check the diagnostics).
    static func parse(_ root: Located) -> DeviceProfile? {
        guard let fields = root.fields(profileFields, required: ["name", "points"], what: "a device profile") else {
            return nil
        }
        let name = fields["name"]?.string(what: "the device's name") ?? ""
        let source = fields["source"]?.string(what: "the document or driver the map follows")
        let modeled = fields["modeled"]?.bool() ?? false
        let modeledOn = fields["modeled_on"]?.string(what: "what the profile is modeled on")
        if modeled, modeledOn == nil, source == nil {
            fields.owner.error(
                "a modeled profile must say what it is modeled on",
                hint: "add `modeled_on: \"<class of device, standard or product it imitates>\"`")
        }
        if !modeled, source == nil, fields.has("name") {
            fields.owner.error(
                "missing field 'source': a profile cites the document, section or driver its map comes from",
                hint: "add `source: \"...\"`, or `modeled: true` and `modeled_on: \"...\"` when no public map exists")
        }
        if let node = fields["modeled_on"], !modeled {
            node.error("modeled_on is only meaningful with `modeled: true`", hint: "add `modeled: true` or remove it")
        }
        let byteOrder = fields["byte_order"].flatMap { wordOrder($0) } ?? .abcd
        let maxGap = fields["max_gap"]?.int(in: 0...124, what: "max_gap")
        let notes = fields["notes"]?.string()

        var points: [PointSpec] = []
        if let list = fields["points"]?.entries(what: "a mapping of point names to points") {
            if list.isEmpty { fields["points"]?.error("a profile needs at least one point", hint: "add a point") }
            for (_, keyNode, value) in list {
                guard let pointName = keyNode.name(what: "point name") else { continue }
                if let point = parsePoint(pointName, value, byteOrder: byteOrder) { points.append(point) }
            }
        }
        checkOverlaps(points, located: fields["points"])

        var commands: [CommandSpec] = []
        if let node = fields["commands"], !node.isNull,
            let list = node.entries(what: "a mapping of command names to commands")
        {
            for (_, keyNode, value) in list {
                guard let commandName = keyNode.name(what: "command name") else { continue }
                if let command = parseCommand(commandName, value, points: points) { commands.append(command) }
            }
        }
        return DeviceProfile(
            name: name, source: source, modeled: modeled, modeledOn: modeledOn, notes: notes, byteOrder: byteOrder,
            maxGap: maxGap, points: points, commands: commands)
    }

    static func table(_ node: Located) -> Table? {
        guard let text = node.string(what: "a table") else { return nil }
        if let table = Table(rawValue: text) { return table }
        let names = Table.allCases.map(\.rawValue)
        let aliases = [
            "coils": "coil", "discrete_input": "discrete", "discrete_inputs": "discrete", "input_register": "input",
            "input_registers": "input", "holding_register": "holding", "holding_registers": "holding",
        ]
        node.error(
            "unknown table '\(text)'; expected one of \(names.joined(separator: ", "))",
            hint: aliases[text.lowercased()].map { "did you mean '\($0)'?" }
                ?? Suggestion.hint(for: text, in: names, noun: "table"))
        return nil
    }

    static func dataType(_ node: Located) -> DataType? {
        guard let text = node.string(what: "a type") else { return nil }
        if let type = DataType(rawValue: text) { return type }
        let names = DataType.allCases.map(\.rawValue)
        var hint = Suggestion.hint(for: text, in: names, noun: "type")
        if ["string", "float64", "double", "uint64", "int64", "char"].contains(text.lowercased()) {
            hint = "FireWatch decodes only these; read such a value through a gateway that converts it, or leave it out"
        }
        node.error("unsupported type '\(text)'; expected one of \(names.joined(separator: ", "))", hint: hint)
        return nil
    }

    static func wordOrder(_ node: Located) -> WordOrder? {
        guard let text = node.string(what: "a word order") else { return nil }
        if let order = WordOrder(rawValue: text.uppercased()) { return order }
        let names = WordOrder.allCases.map(\.rawValue)
        node.error(
            "unsupported word order '\(text)'; expected one of \(names.joined(separator: ", "))",
            hint: Suggestion.closest(to: text.uppercased(), in: names).map { "did you mean '\($0)'?" }
                ?? "ABCD is big-endian (high word first), CDAB swaps the words, BADC the bytes, DCBA both")
        return nil
    }

    static func parsePoint(_ name: String, _ node: Located, byteOrder: WordOrder) -> PointSpec? {
        guard let fields = node.fields(pointFields, required: ["table", "address", "type"], what: "a point") else {
            return nil
        }
        let table = fields["table"].flatMap(table)
        let type = fields["type"].flatMap(dataType)
        let address = fields["address"]?.int(
            in: 0...65535, what: "address", hint: "use the protocol address, 0-based, from 0 to 65535")
        guard let table, let type, let address else { return nil }
        var point = PointSpec(name: name, table: table, address: address, type: type, wordOrder: byteOrder)
        var valid = true

        if table.isBits, type != .bool {
            fields["type"]?.error(
                "a \(table.rawValue) holds single bits, so its points are `type: bool`, not \(type.rawValue)",
                hint: "use `type: bool`, or a register table (input, holding) for \(type.rawValue)")
            valid = false
        }
        if address + point.width - 1 > 65535 {
            fields["address"]?.error(
                "a \(type.rawValue) at \(address) needs \(point.width) registers and runs past 65535",
                hint: "check the address")
            valid = false
        }
        if let node = fields["word_order"] {
            if type.width == 2 {
                point.wordOrder = wordOrder(node) ?? byteOrder
            } else {
                node.error(
                    "word_order applies to 32-bit types (uint32, int32, float32), not \(type.rawValue)",
                    hint: "remove it")
            }
        }
        let numeric = point.valueKind == .number
        for key in ["scale", "offset", "range", "unit"] where !numeric {
            fields[key]?.error("\(key) applies to numeric points only, not \(type.rawValue)", hint: "remove it")
        }
        if numeric {
            if let node = fields["scale"], let scale = node.number() {
                if scale == 0 {
                    node.error("scale must not be 0", hint: "use 1 for no scaling")
                } else {
                    point.scale = scale
                }
            }
            if let offset = fields["offset"]?.number() { point.offset = offset }
            point.unit = fields["unit"]?.string(what: "a unit")
            if let node = fields["range"] { point.range = range(node) }
        }
        if let node = fields["bit"] {
            if type == .bool, !table.isBits {
                point.bit = node.int(
                    in: 0...15, what: "bit", hint: "bits of a register are numbered 0 (least significant) to 15")
            } else {
                node.error(
                    "`bit` picks one bit of a register for a `type: bool` point in an input or holding table",
                    hint: type == .bits ? "name the bits with `bits: { 0: name }` instead" : "remove it")
            }
        }
        if type == .bits {
            if let node = fields["bits"] {
                point.bits = namedNumbers(node, keys: 0...15, what: "bit")
                if point.bits.isEmpty { node.error("a bits point needs at least one named bit", hint: "add `0: name`") }
            } else {
                fields.owner.error(
                    "missing field 'bits': a bits point names its bits", hint: "add `bits: { 0: name, 3: other }`")
                valid = false
            }
        } else if let node = fields["bits"] {
            node.error(
                "`bits` names the bits of a `type: bits` point, not \(type.rawValue)",
                hint: "use `type: bits` or remove it")
        }
        if type == .enum {
            if let node = fields["values"] {
                point.values = namedNumbers(node, keys: 0...65535, what: "value")
                if point.values.isEmpty {
                    node.error("an enum point needs at least one named value", hint: "add `0: normal`")
                }
            } else {
                fields.owner.error(
                    "missing field 'values': an enum point names its values",
                    hint: "add `values: { 0: normal, 1: fault }`")
                valid = false
            }
            point.ordered = fields["ordered"]?.bool() ?? false
        } else {
            fields["values"]?.error(
                "`values` names the values of a `type: enum` point, not \(type.rawValue)",
                hint: "use `type: enum` or remove it")
            fields["ordered"]?.error("`ordered` applies to enum points only", hint: "remove it")
        }
        if let node = fields["fault_values"] { point.faultValues = faultValues(node, point: point) }
        point.description = fields["description"]?.string()
        if let node = fields["role"], let text = node.string(what: "a point role") {
            let roles = PointRole.allCases.map(\.rawValue)
            if let role = PointRole(rawValue: text) {
                if role == .abortSwitch, type != .bool {
                    node.error(
                        "an abort switch is a `type: bool` point (true while held), not \(type.rawValue)",
                        hint: "make the point a bool, or a bool with `bit:` of its register")
                    valid = false
                }
                point.role = role
            } else {
                node.error(
                    "unknown role '\(text)'", hint: Suggestion.hint(for: text, in: roles, noun: "role"))
                valid = false
            }
        }
        if let node = fields["simulate"] {
            // Passed through to the simulator; a bits point names what each bit serves.
            if type == .bits, case .mapping = node.node {
                for (bit, keyNode, value) in node.entries(what: "a mapping of bit names to simulate texts") ?? [] {
                    guard point.bitNumber(named: bit) != nil else {
                        keyNode.error(
                            "'\(bit)' is not a bit of \(name)",
                            hint: Suggestion.hint(for: bit, in: point.bitNames, noun: "bit"))
                        continue
                    }
                    if let text = value.locatedText(what: "a simulate text") { point.simulateBits[bit] = text }
                }
            } else {
                point.simulate = node.locatedText(what: "a simulate text")
            }
        }
        return valid ? point : nil
    }

    /// `fault_values: [32767, 0x8000]`: raw codes the device reports instead of a reading, checked against what
    /// the point's registers can hold so that a code which can never be read is an error, not a silent no-op.
    static func faultValues(_ node: Located, point: PointSpec) -> [Int] {
        let raw: ClosedRange<Int>
        switch point.type {
        case _ where point.table.isBits:
            node.error(
                "fault_values do not apply to a \(point.table.rawValue), which holds a single bit",
                hint: "remove it; a bit has no room for a fault code")
            return []
        case .float32:
            node.error(
                "fault_values are raw integers and a float32 has none (NaN already reads invalid)",
                hint: "remove it, or narrow `range` so the device's error value falls outside it")
            return []
        case .int16: raw = -32768...32767
        case .int32: raw = Int(Int32.min)...Int(Int32.max)
        case .uint32: raw = 0...Int(UInt32.max)
        case .uint16, .enum, .bits, .bool: raw = 0...65535
        }
        guard case .sequence(let sequence) = node.node else {
            node.error(
                "expected a list of raw values, found \(node.kindName)", hint: "write e.g. `fault_values: [32767]`")
            return []
        }
        var codes: [Int] = []
        for (index, item) in sequence.enumerated() {
            let element = node.item(index, item)
            guard
                let code = element.int(
                    in: raw, what: "a raw \(point.type.rawValue) fault code",
                    hint: "fault codes are raw register values before scale; a \(point.type.rawValue) holds "
                        + "\(raw.lowerBound)…\(raw.upperBound)")
            else { continue }
            if codes.contains(code) {
                element.error("fault code \(code) is listed twice", hint: "remove the copy")
            } else if let name = point.values[code] {
                element.error(
                    "\(code) is the value '\(name)' of \(point.name), so it cannot also be a fault code",
                    hint: "remove it from fault_values, or from values if the device uses it for a fault")
            } else {
                codes.append(code)
            }
        }
        return codes
    }

    static func range(_ node: Located) -> ClosedRange<Double>? {
        guard case .sequence(let sequence) = node.node, sequence.count == 2 else {
            node.error("expected [min, max], found \(node.kindName)", hint: "write e.g. `range: [-40, 125]`")
            return nil
        }
        guard let low = node.item(0, sequence[0]).number(), let high = node.item(1, sequence[1]).number() else {
            return nil
        }
        guard low <= high else {
            node.error("range [\(low), \(high)] has its minimum above its maximum", hint: "swap the two numbers")
            return nil
        }
        return low...high
    }

    /// `{ 0: name, 3: other }` with distinct, valid names.
    static func namedNumbers(_ node: Located, keys: ClosedRange<Int>, what: String) -> [Int: String] {
        guard let list = node.entries(what: "a mapping of \(what) numbers to names") else { return [:] }
        var result: [Int: String] = [:]
        var seen: Set<String> = []
        for (_, keyNode, value) in list {
            guard let number = keyNode.int(in: keys, what: "\(what) number"),
                let name = value.name(what: "\(what) name")
            else {
                continue
            }
            if !seen.insert(name).inserted {
                value.error("\(what) name '\(name)' is used twice", hint: "give each \(what) its own name")
                continue
            }
            result[number] = name
        }
        return result
    }

    /// Points that share registers must read them the same way; partial overlaps are always mistakes.
    static func checkOverlaps(_ points: [PointSpec], located: Located?) {
        guard let located else { return }
        let nodes =
            located.entries(what: "points")?.reduce(into: [String: Located]()) { $0[$1.key] = $1.keyNode } ?? [:]
        for (index, point) in points.enumerated() {
            for other in points[..<index] where other.table == point.table {
                let a = point.address..<(point.address + point.width)
                let b = other.address..<(other.address + other.width)
                guard a.overlaps(b) else { continue }
                let node = nodes[point.name] ?? located
                if a != b {
                    node.error(
                        "point '\(point.name)' (\(point.table.rawValue) \(a.lowerBound)…\(a.upperBound - 1)) "
                            + "partly overlaps "
                            + "'\(other.name)' (\(b.lowerBound)…\(b.upperBound - 1))",
                        hint: "check both addresses; a 32-bit value occupies two registers")
                } else if !compatible(point, other) {
                    node.error(
                        "point '\(point.name)' reads the same \(point.table.rawValue) register \(point.address) as "
                            + "'\(other.name)' but as \(describe(point)) instead of \(describe(other))",
                        hint:
                            "two points on one register must agree on type and word order; "
                            + "remove one or fix its address"
                    )
                }
            }
        }
    }

    /// Bit views (bits, bool, bool with a bit) of one register agree; numbers must match exactly.
    static func compatible(_ a: PointSpec, _ b: PointSpec) -> Bool {
        let bitViews: Set<DataType> = [.bits, .bool]
        if bitViews.contains(a.type), bitViews.contains(b.type) { return true }
        if a.type != b.type { return false }
        return a.type.width == 1 || a.wordOrder == b.wordOrder
    }

    static func describe(_ point: PointSpec) -> String {
        point.type.width == 2 ? "\(point.type.rawValue) \(point.wordOrder.rawValue)" : point.type.rawValue
    }

    static func parseCommand(_ name: String, _ node: Located, points: [PointSpec]) -> CommandSpec? {
        guard let fields = node.fields(commandFields, required: ["table", "address", "value"], what: "a command") else {
            return nil
        }
        guard let table = fields["table"].flatMap(table),
            let address = fields["address"]?.int(in: 0...65535, what: "address", hint: "Modbus addresses are 0…65535")
        else { return nil }
        guard table.isWritable else {
            fields["table"]?.error(
                "a command cannot write the \(table.rawValue) table: it is read-only in Modbus",
                hint: "commands write a coil or holding registers")
            return nil
        }
        guard let valueNode = fields["value"] else { return nil }
        let value: CommandValue
        if table == .coil {
            guard let on = valueNode.bool(what: "true or false for a coil") else { return nil }
            value = .coil(on)
        } else if case .sequence(let sequence) = valueNode.node {
            var registers: [UInt16] = []
            for (index, item) in sequence.enumerated() {
                if let v = valueNode.item(index, item).int(in: 0...65535, what: "register value") {
                    registers.append(UInt16(v))
                }
            }
            guard registers.count == sequence.count else { return nil }
            guard (1...123).contains(registers.count), address + registers.count - 1 <= 65535 else {
                valueNode.error(
                    "a command writes 1…123 registers within 0…65535 (FC 16), not \(registers.count) at \(address)",
                    hint: "shorten the list")
                return nil
            }
            value = .registers(registers)
        } else {
            guard
                let v = valueNode.int(
                    in: 0...65535, what: "register value", hint: "a holding register takes 0…65535, raw")
            else {
                return nil
            }
            value = .registers([UInt16(v)])
        }
        var verify: VerifySpec?
        if let node = fields["verify"] {
            verify = parseVerify(node, points: points)
        }
        var command = CommandSpec(
            name: name, table: table, address: address, value: value, verify: verify,
            description: fields["description"]?.string())
        command.simulate = fields["simulate"]?.locatedText(what: "a simulate text")
        if let node = fields["readback"], let readback = node.bool(what: "true or false") {
            if verify != nil, !readback {
                node.error("`readback: false` has no effect beside `verify:`", hint: "remove it")
            }
            command.readback = readback
        }
        return command
    }

    static func parseVerify(_ node: Located, points: [PointSpec]) -> VerifySpec? {
        guard let fields = node.fields(verifyFields, required: ["point", "equals"], what: "a verify") else {
            return nil
        }
        let within = fields["within"]?.duration() ?? defaultVerifyWithin
        guard let pointNode = fields["point"], let reference = pointNode.string(what: "a point name") else {
            return nil
        }
        let parts = reference.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard (1...2).contains(parts.count), parts.allSatisfy(Located.isName) else {
            pointNode.error(
                "'\(reference)' is not a point or point.bit of this profile", hint: "write `point` or `point.bit`")
            return nil
        }
        guard let point = points.first(where: { $0.name == parts[0] }) else {
            pointNode.error(
                "verify reads unknown point '\(parts[0])'",
                hint: Suggestion.hint(for: parts[0], in: points.map(\.name), noun: "point"))
            return nil
        }
        let bit = parts.count == 2 ? parts[1] : nil
        if let bit {
            guard point.type == .bits else {
                pointNode.error(
                    "'\(point.name)' is \(point.type.rawValue), it has no named bits",
                    hint: "verify `\(point.name)` itself")
                return nil
            }
            guard point.bitNumber(named: bit) != nil else {
                pointNode.error(
                    "'\(point.name)' has no bit '\(bit)'",
                    hint: Suggestion.hint(for: bit, in: point.bitNames, noun: "bit"))
                return nil
            }
        } else if point.type == .bits {
            pointNode.error(
                "'\(point.name)' is a bits point; verify one of its bits",
                hint: "write `\(point.name).\(point.bitNames.first ?? "bit")`")
            return nil
        }
        guard let equalsNode = fields["equals"],
            let expected = expectedValue(equalsNode, point: point, isBit: bit != nil)
        else { return nil }
        return VerifySpec(point: point.name, bit: bit, equals: expected, within: within)
    }

    /// A verify value of the right kind for the point: number, enum name, or true/false.
    static func expectedValue(_ node: Located, point: PointSpec, isBit: Bool) -> Value? {
        if isBit || point.valueKind == .flag {
            return node.bool(what: "true or false (\(point.name) is a flag)").map(Value.flag)
        }
        switch point.valueKind {
        case .number:
            return node.number(what: "a number (\(point.name) is \(point.type.rawValue))").map(Value.number)
        case .name:
            guard let text = node.scalarText else {
                node.error(
                    "expected one of \(point.valueNames.joined(separator: ", ")), found \(node.kindName)",
                    hint: "write one of the names")
                return nil
            }
            guard point.rawValue(named: text) != nil else {
                node.error(
                    "'\(text)' is not a value of '\(point.name)' (\(point.valueNames.joined(separator: ", ")))",
                    hint: Suggestion.hint(for: text, in: point.valueNames, noun: "value"))
                return nil
            }
            return .name(text)
        case .flag, .bitfield:
            return nil
        }
    }
}

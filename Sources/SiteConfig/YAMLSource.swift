import Foundation
import Yams

/// A configuration file read from disk and composed into a Yams `Node` tree, which keeps the line
/// and column of every key and value (decoding straight into `Codable` types would lose them).
package struct YAMLSource {
    /// Files larger than this are refused before parsing: a site file is a few kilobytes, and a
    /// huge file is a mistake (wrong path, a log file) that would only waste memory.
    package static let maxBytes = 1 << 20
    /// Nodes visited per file, bounding alias expansion ("billion laughs").
    package static let maxNodes = 200_000

    package let file: String
    package let root: Node

    /// Reads and composes `path`; on failure reports into `diagnostics` and returns nil.
    package static func load(path: String, displayName: String? = nil, diagnostics: Diagnostics) -> YAMLSource? {
        let name = displayName ?? path
        func fail(_ message: String, hint: String, line: Int = 0, column: Int = 0) -> YAMLSource? {
            diagnostics.add(file: name, line: line, column: column, field: "", message, hint: hint)
            return nil
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            return fail("file not found", hint: "check the path; relative paths are relative to the current directory")
        }
        if isDirectory.boolValue {
            return fail("is a directory, not a YAML file", hint: "name the .yaml file inside it")
        }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        if size > maxBytes {
            return fail(
                "file is \(size) bytes, more than the \(maxBytes) bytes (1 MiB) a configuration may have",
                hint: "check that this is the right file; site files and profiles are a few kilobytes")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            return fail("cannot be read", hint: "check its permissions (the daemon's user must be able to read it)")
        }
        guard data.count <= maxBytes else {
            return fail("file is larger than 1 MiB", hint: "check that this is the right file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            return fail("is not UTF-8 text", hint: "save it as UTF-8; is this really a YAML file?")
        }
        return parse(text: text, file: name, diagnostics: diagnostics)
    }

    /// Composes YAML text; reports empty documents and syntax errors with their position.
    package static func parse(text: String, file: String, diagnostics: Diagnostics) -> YAMLSource? {
        if text.contains("\0") {
            diagnostics.add(
                file: file, line: 0, column: 0, field: "", "contains NUL bytes: this is not a text file",
                hint: "point at the YAML file")
            return nil
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch let error as YamlError {
            report(error, file: file, diagnostics: diagnostics)
            return nil
        } catch {
            diagnostics.add(
                file: file, line: 0, column: 0, field: "", "is not valid YAML: \(error)", hint: "fix the syntax")
            return nil
        }
        guard let root, !(root.scalar.map { $0.string.isEmpty && root.resolvedTagName == .null } ?? false) else {
            diagnostics.add(
                file: file, line: 0, column: 0, field: "", "is empty",
                hint: "a site file needs at least `site:`, `devices:` and `zones:`; a profile `name:` and `points:`")
            return nil
        }
        return YAMLSource(file: file, root: root)
    }

    private static func report(_ error: YamlError, file: String, diagnostics: Diagnostics) {
        switch error {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
            .composer(let context, let problem, let mark, _):
            let location = context.map { " (\($0.text) at line \($0.mark.line))" } ?? ""
            diagnostics.add(
                file: file, line: mark.line, column: mark.column, field: "", "is not valid YAML: \(problem)\(location)",
                hint: "fix the YAML syntax here; indentation must use spaces, and `key: value` needs the space")
        case .duplicatedKeysInMapping(let duplicates, let context):
            let keys = duplicates.map { "'\($0)'" }.joined(separator: ", ")
            diagnostics.add(
                file: file, line: context.mark.line, column: context.mark.column, field: "",
                "key \(keys) appears more than once in the same mapping",
                hint: "keep one; YAML would silently use only the last one")
        case .reader(let problem, _, _, _):
            diagnostics.add(
                file: file, line: 0, column: 0, field: "", "cannot be read as YAML: \(problem)",
                hint: "save it as UTF-8 text")
        default:
            diagnostics.add(
                file: file, line: 0, column: 0, field: "", "is not valid YAML: \(error)", hint: "fix the syntax")
        }
    }
}

/// A node with the file and field path it was found at: every value the loaders read goes
/// through here, so every error can say where it is.
package struct Located {
    package let node: Node
    package let file: String
    package let path: [String]
    package let diagnostics: Diagnostics
    /// Shared counter of visited nodes for this file (alias-bomb guard).
    package let budget: NodeBudget

    package var field: String { path.joined(separator: ".") }
    package var line: Int { node.mark?.line ?? 0 }
    package var column: Int { node.mark?.column ?? 0 }

    package func child(_ key: String, _ node: Node) -> Located {
        Located(node: node, file: file, path: path + [key], diagnostics: diagnostics, budget: budget)
    }

    /// The `index`th item of a list: `steps[2]` rather than `steps.2`.
    package func item(_ index: Int, _ node: Node) -> Located {
        var path = self.path
        if let last = path.popLast() { path.append("\(last)[\(index)]") } else { path.append("[\(index)]") }
        return Located(node: node, file: file, path: path, diagnostics: diagnostics, budget: budget)
    }

    /// Reports a problem here; every problem says what to do about it.
    package func error(_ message: String, hint: String) {
        diagnostics.add(file: file, line: line, column: column, field: field, message, hint: hint)
    }

    /// What kind of YAML thing this is, for "expected a list, found a number" messages.
    package var kindName: String {
        switch node {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            switch node.resolvedTagName {
            case .null: return "nothing"
            case .bool: return "the boolean \(scalar.string)"
            case .int, .float: return "the number \(scalar.string)"
            default: return "text '\(scalar.string)'"
            }
        }
    }

    package var isEmptyMapping: Bool {
        if case .mapping(let mapping) = node { return mapping.isEmpty }
        return false
    }

    package var isNull: Bool {
        if case .scalar(let scalar) = node { return node.resolvedTagName == .null && scalar.style == .plain }
        return false
    }

    /// The raw scalar text (for names that YAML would otherwise turn into booleans: `on`, `no`).
    package var scalarText: String? {
        if case .scalar(let scalar) = node { return scalar.string }
        return nil
    }

    // MARK: Typed reads. Each reports its own error and returns nil on a bad value.

    package func string(what: String = "text") -> String? {
        guard let text = scalarText, !isNull else {
            error("expected \(what), found \(kindName)", hint: "write \(what) here")
            return nil
        }
        return text
    }

    /// A name used in references: letters, digits, `_` and `-`; no dots (dots separate `device.point`).
    package func name(what: String) -> String? {
        guard let text = string(what: what) else { return nil }
        if !Located.isName(text) {
            error(
                "'\(text)' is not a valid \(what)",
                hint: "use letters, digits, '_' and '-' only (dots separate device.point references)")
            return nil
        }
        return text
    }

    package static func isName(_ text: String) -> Bool {
        !text.isEmpty
            && text.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-" }
    }

    package func int(in range: ClosedRange<Int>, what: String, hint: String? = nil) -> Int? {
        guard let text = scalarText, case .scalar(let scalar) = node,
            node.resolvedTagName == .int || scalar.style != .plain,
            let value = Located.parseInt(text)
        else {
            error("expected \(what) (a whole number), found \(kindName)", hint: hint ?? "write a whole number")
            return nil
        }
        guard range.contains(value) else {
            error(
                "\(what) \(value) is outside \(range.lowerBound)…\(range.upperBound)",
                hint: hint ?? "use a value from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    package static func parseInt(_ text: String) -> Int? {
        let clean = text.replacingOccurrences(of: "_", with: "")
        if clean.hasPrefix("0x") || clean.hasPrefix("0X") { return Int(clean.dropFirst(2), radix: 16) }
        if clean.hasPrefix("-0x") { return Int(clean.dropFirst(3), radix: 16).map { -$0 } }
        return Int(clean)
    }

    package func number(what: String = "a number") -> Double? {
        guard case .scalar(let scalar) = node, node.resolvedTagName == .int || node.resolvedTagName == .float,
            let value = Located.parseInt(scalar.string).map(Double.init) ?? Double(scalar.string), value.isFinite
        else {
            error("expected \(what), found \(kindName)", hint: "write a number such as 35 or 0.5")
            return nil
        }
        return value
    }

    package func bool(what: String = "true or false") -> Bool? {
        guard let text = scalarText else {
            error("expected \(what), found \(kindName)", hint: "write true or false")
            return nil
        }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            error("expected \(what), found \(kindName)", hint: "write true or false")
            return nil
        }
    }

    package func duration() -> Duration? {
        guard let text = scalarText, !isNull else {
            error(
                "expected a duration like 500ms, 1s, 2m or 1h, found \(kindName)", hint: "write one number and one unit"
            )
            return nil
        }
        guard let value = Duration(configText: text) else {
            let bare = Double(text) != nil
            error(
                "'\(text)' is not a duration; expected a number and one unit: 500ms, 1s, 2m or 1h",
                hint: bare ? "add a unit, e.g. \(text)s" : "write one number and one unit: ms, s, m or h")
            return nil
        }
        return value
    }

    /// The items of a list, each located as `field[n]` counting from `firstIndex`; nil (reported) when this is not
    /// a list.
    package func items(what: String, firstIndex: Int = 0) -> [Located]? {
        guard case .sequence(let sequence) = node else {
            error("expected a list of \(what), found \(kindName)", hint: "write one `- item` per line")
            return nil
        }
        var result: [Located] = []
        for (index, item) in sequence.enumerated() {
            guard budget.spend() else {
                error("the file expands to more than \(YAMLSource.maxNodes) values", hint: "remove YAML aliases")
                return result
            }
            result.append(self.item(firstIndex + index, item))
        }
        return result
    }

    /// A list of scalars (a single scalar is not accepted: lists are explicit in this format).
    package func stringList(what: String) -> [(String, Located)]? {
        guard case .sequence(let sequence) = node else {
            error("expected a list of \(what), found \(kindName)", hint: "write [a, b] or one `- item` per line")
            return nil
        }
        var result: [(String, Located)] = []
        for (index, item) in sequence.enumerated() {
            let element = self.item(index, item)
            guard budget.spend(), let text = element.string(what: what) else { continue }
            result.append((text, element))
        }
        return result
    }

    /// The entries of a mapping in file order; keys as their raw text.
    package func entries(what: String) -> [(key: String, keyNode: Located, value: Located)]? {
        guard case .mapping(let mapping) = node else {
            error(
                "expected \(what), found \(isNull ? "nothing" : kindName)",
                hint: "write `key: value` lines indented under it")
            return nil
        }
        var result: [(String, Located, Located)] = []
        for (key, value) in mapping {
            guard budget.spend() else {
                error("the file expands to more than \(YAMLSource.maxNodes) values", hint: "remove YAML aliases")
                return result
            }
            let keyText = key.scalar?.string ?? "?"
            result.append((keyText, child(keyText, key), child(keyText, value)))
        }
        return result
    }

    /// The value under `key` of a mapping already read with `fields`, to point a later error at it; nil when absent.
    package func lookup(_ key: String) -> Located? {
        guard case .mapping(let mapping) = node else { return nil }
        for (keyNode, value) in mapping where keyNode.scalar?.string == key { return child(key, value) }
        return nil
    }

    /// A mapping with a fixed set of fields: unknown keys are errors with suggestions,
    /// missing required keys are errors at the mapping.
    package func fields(_ known: [String], required: [String] = [], what: String) -> Fields? {
        guard let list = entries(what: what) else { return nil }
        var values: [String: Located] = [:]
        var keys: [String: Located] = [:]
        for (key, keyNode, value) in list {
            if known.contains(key) {
                values[key] = value
                keys[key] = keyNode
            } else if key == "<<" {
                keyNode.error("YAML merge keys (<<) are not supported here", hint: "write the fields out")
            } else {
                keyNode.error("unknown field '\(key)'", hint: Suggestion.forField(key, in: known))
            }
        }
        for key in required where values[key] == nil {
            error("missing field '\(key)'", hint: "add `\(key):` (\(what) needs \(required.joined(separator: ", ")))")
        }
        return Fields(owner: self, values: values, keys: keys)
    }
}

/// The known fields of one mapping, by key.
package struct Fields {
    package let owner: Located
    package let values: [String: Located]
    /// The key nodes, for errors about a whole value (a block list's own position is its first item).
    package let keys: [String: Located]

    package subscript(_ key: String) -> Located? { values[key] }
    package func has(_ key: String) -> Bool { values[key] != nil }
}

/// Counts nodes visited in one file; shared by reference between `Located` copies.
package final class NodeBudget {
    private var left = YAMLSource.maxNodes
    package func spend() -> Bool {
        left -= 1
        return left >= 0
    }
}

extension YAMLSource {
    package func located(_ diagnostics: Diagnostics) -> Located {
        Located(node: root, file: file, path: [], diagnostics: diagnostics, budget: NodeBudget())
    }
}

extension Node {
    /// The resolved tag (`Tag.name` is internal to Yams; its raw value is public).
    package var resolvedTagName: Tag.Name { Tag.Name(rawValue: tag.rawValue) }
}

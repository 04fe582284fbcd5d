/// "Did you mean" suggestions (edit distance) for misspelt names; public for the CLI's own lookups.
public enum Suggestion {
    /// Levenshtein distance, case-insensitive; small strings only (names and keys).
    static func distance(_ a: String, _ b: String) -> Int {
        let x = Array(a.lowercased()), y = Array(b.lowercased())
        if x.isEmpty { return y.count }
        if y.isEmpty { return x.count }
        var previous = Array(0...y.count)
        var current = Array(repeating: 0, count: y.count + 1)
        for i in 1...x.count {
            current[0] = i
            for j in 1...y.count {
                let cost = x[i - 1] == y[j - 1] ? 0 : 1
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            }
            swap(&previous, &current)
        }
        return previous[y.count]
    }

    /// The closest candidate within a third of the word's length (at least 2 edits), if any.
    static func closest(to word: String, in candidates: some Sequence<String>) -> String? {
        let limit = max(2, word.count / 3)
        var best: (String, Int)?
        for candidate in candidates {
            let d = distance(word, candidate)
            if d <= limit, d < (best?.1 ?? Int.max) { best = (candidate, d) }
        }
        return best?.0
    }

    /// `did you mean 'x'?` or a list of what is allowed, for a hint.
    static func hint(for word: String, in candidates: [String], noun: String) -> String {
        if let match = closest(to: word, in: candidates) { return "did you mean '\(match)'?" }
        if candidates.isEmpty { return "none are declared" }
        let shown = candidates.prefix(12).joined(separator: ", ")
        return "known \(noun)s: \(shown)\(candidates.count > 12 ? ", …" : "")"
    }
}

extension Suggestion {
    /// A hint for an unknown `kind/name` profile among those available.
    public static func forProfile(_ reference: String, in available: [String]) -> String {
        hint(for: reference, in: available, noun: "profile")
    }

    /// A hint for an unknown key of a mapping (site, profile or scenario file): the closest allowed key, else all
    /// of them.
    public static func forField(_ key: String, in allowed: [String]) -> String {
        if let match = closest(to: key, in: allowed) { return "did you mean '\(match)'?" }
        return "expected one of: \(allowed.joined(separator: ", "))"
    }
}

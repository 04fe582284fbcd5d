import Foundation

/// `alertmanager: http://host:9093` in a `notify:` channel.
extension SiteReader {
    /// The Alertmanager's base URL without a trailing `/`, or nil after reporting why not.
    ///
    /// The base URL, not the endpoint: FireWatch appends `/api/v2/alerts`, so a pasted API or UI address (with
    /// `/api/…`, a query or a `#/alerts` fragment) is refused rather than posted to a wrong path. A path that is
    /// not the API's is kept as a route prefix (`--web.route-prefix`, or a reverse proxy's folder).
    func alertmanagerURL(_ node: Located, besides fields: Fields) -> URL? {
        let others = ["webhook", "command"].filter { fields.has($0) }
        if !others.isEmpty {
            let kinds = (["alertmanager"] + others).map { "`\($0):`" }.joined(separator: " and ")
            fields.owner.error(
                "a channel is one of `webhook:`, `command:` or `alertmanager:`, not \(kinds)",
                hint: "split it into \(others.count + 1) channels")
            return nil
        }
        guard let text = node.string(what: "a URL") else { return nil }
        let example = "write the base URL, e.g. http://alertmanager.example:9093"
        guard let parts = URLComponents(string: text), ["http", "https"].contains(parts.scheme?.lowercased() ?? ""),
            let host = parts.host, !host.isEmpty
        else {
            node.error("'\(text)' is not an http(s) URL", hint: example)
            return nil
        }
        let path = parts.path
        if parts.query != nil || parts.fragment != nil || path.contains("/api/") || path.hasSuffix("/api") {
            node.error(
                "'\(text)' is not an Alertmanager's base URL: FireWatch appends /api/v2/alerts to it",
                hint:
                    "give the base URL, e.g. \(parts.scheme ?? "http")://\(host)\(parts.port.map { ":\($0)" } ?? ""); "
                    + "a route prefix such as /alertmanager may stay, but no /api/…, query or #fragment")
            return nil
        }
        var base = parts
        while base.path.hasSuffix("/") { base.path.removeLast() }
        guard let url = base.url else {
            node.error("'\(text)' is not an http(s) URL", hint: example)
            return nil
        }
        return url
    }
}

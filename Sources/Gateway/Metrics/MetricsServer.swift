import AlertLog
import Foundation
import Hummingbird
import Logging
import Prometheus
import ServiceLifecycle
import SiteConfig
import Synchronization

/// The daemon's HTTP face for people and Prometheus, on the site's `metrics:` address.
///
/// - `GET /`: the annunciator page (`AnnunciatorPage`), one read-only HTML document that polls the two below.
/// - `GET /metrics`: the registry in the Prometheus text exposition format (0.0.4).
/// - `GET /status`: JSON from the `status` closure (the daemon's `DaemonStatus`).
/// - `GET /records`: a JSON array from the `records` closure (the last alert-log records, newest last).
/// - `GET /healthz`: `200 ok` while the `health` closure says polls make progress, else `503` with the reason.
///
/// A `Service`: run it in the daemon's `ServiceGroup`; it stops on graceful shutdown or cancellation. It binds
/// exactly the configured address (loopback in the shipped examples; the site file decides).
public struct MetricsServer: Service {
    private let address: HostPort
    private let registry: PrometheusCollectorRegistry
    private let status: @Sendable () async throws -> [UInt8]
    private let records: @Sendable () async -> [JSONValue]
    private let health: @Sendable () async -> Health
    private let onListening: @Sendable (HostPort) async -> Void
    private let logger: Logger
    private let bindRetry: Duration?

    /// - Parameters:
    ///   - address: where to listen (`metrics:`); port 0 picks a free port, reported to `onListening`.
    ///   - registry: what `/metrics` serves (`MetricsObserver.registry`).
    ///   - status: what `/status` serves, encoded with `JSONEncoder`: snake_case keys (as the control socket's
    ///     `status` answer), sorted, ISO 8601 dates.
    ///   - health: what `/healthz` answers (e.g. `MetricsObserver.pollProgress(now:maxAge:)`).
    ///   - records: what `/records` serves, each record as its alert-log members (`Daemon.recentRecords()`).
    ///   - bindRetry: nil to fail when the address cannot be bound; else how often to try again meanwhile.
    ///   - onListening: called once the socket is bound, with the actual address.
    public init<Status: Encodable & Sendable>(
        address: HostPort, registry: PrometheusCollectorRegistry, logger: Logger,
        status: @escaping @Sendable () async -> Status, health: @escaping @Sendable () async -> Health,
        records: @escaping @Sendable () async -> [JSONValue] = { [] }, bindRetry: Duration? = nil,
        onListening: @escaping @Sendable (HostPort) async -> Void = { _ in }
    ) {
        self.init(
            address: address, registry: registry, logger: logger, bindRetry: bindRetry, records: records,
            statusBytes: {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                encoder.keyEncodingStrategy = .convertToSnakeCase
                encoder.dateEncodingStrategy = .iso8601
                return Array(try encoder.encode(await status()))
            }, health: health, onListening: onListening)
    }

    /// The same, for a status already built as a `JSONValue` (member order kept, as in control-socket answers).
    public init(
        address: HostPort, registry: PrometheusCollectorRegistry, logger: Logger,
        status: @escaping @Sendable () async -> JSONValue, health: @escaping @Sendable () async -> Health,
        records: @escaping @Sendable () async -> [JSONValue] = { [] }, bindRetry: Duration? = nil,
        onListening: @escaping @Sendable (HostPort) async -> Void = { _ in }
    ) {
        self.init(
            address: address, registry: registry, logger: logger, bindRetry: bindRetry, records: records,
            statusBytes: { Array(JSONWriter.serialize(await status()).utf8) }, health: health,
            onListening: onListening)
    }

    private init(
        address: HostPort, registry: PrometheusCollectorRegistry, logger: Logger, bindRetry: Duration?,
        records: @escaping @Sendable () async -> [JSONValue],
        statusBytes: @escaping @Sendable () async throws -> [UInt8], health: @escaping @Sendable () async -> Health,
        onListening: @escaping @Sendable (HostPort) async -> Void
    ) {
        self.address = address
        self.registry = registry
        self.status = statusBytes
        self.records = records
        self.health = health
        self.onListening = onListening
        self.logger = logger
        self.bindRetry = bindRetry
    }

    /// Serves until graceful shutdown or cancellation.
    ///
    /// When the address cannot be bound: with `bindRetry` nil, throws `MetricsServerError`; otherwise logs it and
    /// tries again every `bindRetry`, so a taken port never stops the daemon's safety work (Prometheus sees the
    /// target down and `FireWatchDown` fires instead).
    public func run() async throws {
        guard let bindRetry else { return try await serve() }
        while !Task.isCancelled {
            do {
                return try await serve()
            } catch let error as MetricsServerError {
                logger.error("\(error); trying again every \(bindRetry)")
                do {
                    try await cancelWhenGracefulShutdown { try await Task.sleep(for: bindRetry) }
                } catch {
                    return
                }
            }
        }
    }

    private func serve() async throws {
        let listening = ListeningFlag()
        let application = Application(
            router: makeRouter(),
            configuration: ApplicationConfiguration(address: .hostname(address.host, port: address.port)),
            onServerRunning: { [address, onListening, logger] channel in
                listening.set()
                let bound = HostPort(host: address.host, port: channel.localAddress?.port ?? address.port)
                logger.info("annunciator page, metrics, status and healthz on http://\(bound)/")
                await onListening(bound)
            },
            logger: logger
        )
        do {
            try await application.run()
        } catch let error where !listening.isSet {
            throw MetricsServerError(address: address, underlying: "\(error)")
        }
    }

    private func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/") { _, _ -> Response in
            Response(
                status: .ok,
                headers: [
                    .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                    .contentSecurityPolicy: AnnunciatorPage.contentSecurityPolicy,
                ],
                body: ResponseBody(byteBuffer: ByteBuffer(string: AnnunciatorPage.html)))
        }
        router.get("metrics") { [registry] _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
        router.get("status") { [status, logger] _, _ -> Response in
            do {
                let bytes = try await status()
                return Response(
                    status: .ok, headers: [.contentType: "application/json"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
            } catch {
                logger.error("cannot encode /status: \(error)")
                return Self.text(.internalServerError, "cannot encode status: \(error)\n")
            }
        }
        router.get("records") { [records] _, _ -> Response in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: ResponseBody(byteBuffer: ByteBuffer(string: JSONWriter.serialize(.array(await records())))))
        }
        router.get("healthz") { [health] _, _ -> Response in
            switch await health() {
            case .healthy: return Self.text(.ok, "ok\n")
            case .unhealthy(let reason): return Self.text(.serviceUnavailable, reason + "\n")
            }
        }
        return router
    }

    private static func text(_ status: HTTPResponse.Status, _ text: String) -> Response {
        Response(
            status: status, headers: [.contentType: "text/plain; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}

/// The metrics listener could not start; names the `metrics:` field and what to do.
public struct MetricsServerError: Error, Sendable, CustomStringConvertible {
    public var address: HostPort
    public var underlying: String

    public var description: String {
        "metrics: cannot listen on \(address): \(underlying); free that port or change `metrics:` in the site file"
    }
}

/// Set once the server is bound, so a bind failure can be told apart from a later error.
private final class ListeningFlag: Sendable {
    private let flag = Mutex(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}

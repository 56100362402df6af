public import Hummingbird
public import Logging
import HummingbirdWebSocket
import NIOCore
import Prometheus

/// Builds the whole server: one supervisor (a Service) per stream, the routes and the page. The
/// `framecast` executable and the tests both use it.
///
/// Throws a `PipelineError` when a pipeline cannot be served (checked before anything runs).
public func buildApplication(
    configuration: ServerConfiguration,
    logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    // Per application, not the process-wide MetricsSystem: tests run many servers in one process.
    let registry = PrometheusCollectorRegistry()
    let metricsFactory = PrometheusMetricsFactory(registry: registry)
    let supervisors = try configuration.streams.map { definition in
        try StreamSupervisor(
            name: definition.name, pipeline: definition.pipeline, settings: configuration.stream,
            metrics: StreamMetrics(stream: definition.name, factory: metricsFactory), logger: logger)
    }
    let catalog = StreamCatalog(supervisors)

    let router = Router(context: BasicRequestContext.self)
    let streams = StreamController<BasicRequestContext>(catalog: catalog)
    let snapshots = SnapshotController<BasicRequestContext>(catalog: catalog)
    router.middlewares.add(
        MethodNotAllowedMiddleware(
            exactPaths: ["/", "/index.html", "/stream", "/snapshot", "/api/status", "/api/streams", "/metrics"],
            namedPrefixes: ["/stream/", "/snapshot/", "/api/streams/"]))
    router.middlewares.add(MjpgStreamerMiddleware(catalog: catalog, streams: streams, snapshots: snapshots))
    if let webRoot = configuration.webRoot {
        router.middlewares.add(FileMiddleware(webRoot, searchForIndexHtml: true, logger: logger))
    }
    streams.addRoutes(to: router)
    snapshots.addRoutes(to: router)
    StatusController(catalog: catalog).addRoutes(to: router)
    MetricsController(registry: registry).addRoutes(to: router)
    // A router of its own: only `/ws` upgrades; everything else stays plain HTTP.
    let webSocketRouter = Router(context: BasicWebSocketRequestContext.self)
    WallSocketController(catalog: catalog).addRoutes(to: webSocketRouter)

    return Application(
        router: router,
        server: .http1WebSocketUpgrade(webSocketRouter: webSocketRouter),
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Framecast"),
        services: supervisors,
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}

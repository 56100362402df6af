public import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
public import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

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
    let definitions = Dictionary(uniqueKeysWithValues: configuration.streams.map { ($0.name, $0) })
    let catalog = StreamCatalog(supervisors) { supervisor in
        RenditionSet(
            source: supervisor, named: definitions[supervisor.name].map(configuration.namedRenditions(of:)) ?? [:],
            limit: configuration.maxRenditions, metricsFactory: metricsFactory, logger: logger,
            encoderDelayForTesting: configuration.renditionEncoderDelayForTesting,
            creationsPerSecond: configuration.renditionCreationsPerSecond)
    }
    let budget = ClientBudget(limit: configuration.maxClients)

    // HEAD reaches every GET route (and HeadMiddleware makes it answer as GET would).
    let router = Router(context: FramecastRequestContext.self, options: .autoGenerateHeadEndpoints)
    let streams = StreamController<FramecastRequestContext>(
        catalog: catalog, budget: budget, delivery: MultipartDelivery(useMemoryFile: configuration.sendfile))
    let snapshots = SnapshotController<FramecastRequestContext>(catalog: catalog)
    // Order matters: middleware wraps only what is added after it.
    router.middlewares.add(HeadMiddleware())
    router.middlewares.add(RefusalMiddleware())
    if let origin = configuration.allowOrigin {
        router.middlewares.add(CORSMiddleware(allowOrigin: .custom(origin), allowHeaders: [.authorization, .contentType], allowMethods: [.get, .head], allowCredentials: configuration.access != nil))
    }
    if let access = configuration.access {
        router.middlewares.add(BasicAuthMiddleware(access: access))
    }
    router.middlewares.add(
        MethodNotAllowedMiddleware(
            exactPaths: ["/", "/index.html", "/stream", "/snapshot", "/api/status", "/api/streams", "/metrics", "/healthz"],
            namedPrefixes: ["/stream/", "/snapshot/", "/api/streams/"]))
    router.middlewares.add(MjpgStreamerMiddleware(catalog: catalog, streams: streams, snapshots: snapshots))
    if let webRoot = configuration.webRoot {
        router.middlewares.add(FileMiddleware(webRoot, searchForIndexHtml: true, logger: logger))
    }
    streams.addRoutes(to: router)
    snapshots.addRoutes(to: router)
    StatusController(catalog: catalog, budget: budget).addRoutes(to: router)
    MetricsController(registry: registry).addRoutes(to: router)

    // A router of its own: only `/ws` upgrades; everything else stays plain HTTP.
    let webSocketRouter = Router(context: FramecastWebSocketRequestContext.self)
    if let access = configuration.access {
        webSocketRouter.middlewares.add(BasicAuthMiddleware(access: access))
    }
    WallSocketController(
        catalog: catalog, budget: budget, subscribeTimeout: .nanoseconds(configuration.webSocketSubscribeTimeout.saturatingNanoseconds)
    ).addRoutes(to: webSocketRouter)
    let webSocketResponder = webSocketRouter.buildResponder()

    let channelConfiguration = HTTP1WebSocketUpgradeChannel.Configuration(
        // The idle timeout also bounds how long a request's headers may take (slow senders).
        http1: .init(idleTimeout: .milliseconds(configuration.headerTimeout.saturatingMilliseconds)),
        // A subscribed session that leaves a ping unanswered for --client-timeout is closed.
        ws: .init(maxFrameSize: 64 * 1024, autoPing: .enabled(timePeriod: .milliseconds(configuration.clientTimeout.saturatingMilliseconds)))
    )
    let hostPolicy = HostPolicy(
        bindHost: configuration.host, allowHosts: configuration.allowHosts, allowOrigins: configuration.allowOrigin.map { [$0] } ?? [])
    let server = HTTPServerBuilder { responder in
        TunedChildChannel(
            base: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder, configuration: channelConfiguration),
            clientTimeout: configuration.clientTimeout,
            requestTimeout: configuration.headerTimeout,
            hostPolicy: hostPolicy)
    }

    return Application(
        router: router,
        server: server,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Framecast"),
        services: supervisors + [RenditionShutdown(catalog: catalog)],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}

/// Stops every rendition at shutdown (renditions are made on demand, outside the service group).
private struct RenditionShutdown: Service {
    let catalog: StreamCatalog

    func run() async throws {
        try? await gracefulShutdown()
        await catalog.shutdownRenditions()
    }
}

public import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
public import Logging
import NIOCore
import MediaPipeline
import Prometheus

/// Builds the whole server: the streams, the routes, the page and a listener per address. The
/// `framecast` executable and the tests both use it.
///
/// Throws a `PipelineError` when a pipeline cannot be served (checked before anything runs).
/// `onServerRunning` is called once every listener accepts connections.
public func buildApplication(
    configuration: ServerConfiguration,
    logger: Logger,
    onServerRunning: @escaping @Sendable ([BoundListener]) async -> Void = { _ in }
) throws -> FramecastApplication {
    // Per application, not the process-wide MetricsSystem: tests run many servers in one process.
    let registry = PrometheusCollectorRegistry()
    let metricsFactory = PrometheusMetricsFactory(registry: registry)
    let settings = configuration.stream
    let catalog = try StreamCatalog(
        configuration.streams,
        factory: StreamCatalog.Factory(
            makeSupervisor: { definition throws(PipelineError) in
                try StreamSupervisor(
                    name: definition.name, pipeline: definition.pipeline, settings: settings,
                    metrics: StreamMetrics(stream: definition.name, factory: metricsFactory), logger: logger)
            },
            makeRenditions: { supervisor, named in
                RenditionSet(
                    source: supervisor, named: named,
                    limit: configuration.maxRenditions, metricsFactory: metricsFactory, logger: logger,
                    encoderDelayForTesting: configuration.renditionEncoderDelayForTesting,
                    creationsPerSecond: configuration.renditionCreationsPerSecond)
            },
            namedRenditions: { configuration.namedRenditions(of: $0) }, logger: logger))
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
    // A cookie after a Basic login; links only where there are credentials to go without.
    let sessions = configuration.access.map(SessionCookies.init(access:))
    let links = configuration.links.map { LinkAuthorization(keys: $0, catalog: catalog) }
    if let access = configuration.access {
        router.middlewares.add(BasicAuthMiddleware(access: access, sessions: sessions, links: links))
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
    StatusController(catalog: catalog, budget: budget, linksAvailable: configuration.links != nil).addRoutes(to: router)
    LinksController<FramecastRequestContext>(keys: configuration.links, catalog: catalog, requiresAuthentication: configuration.access != nil)
        .addRoutes(to: router)
    MetricsController(registry: registry).addRoutes(to: router)
    if let reloader = configuration.reloader {
        reloader.attach(catalog)
        reloader.attach(access: configuration.access, links: configuration.links)
        ReloadController<FramecastRequestContext>(reloader: reloader, requiresAuthentication: configuration.access != nil).addRoutes(to: router)
    }

    // A router of its own: only `/ws` upgrades; everything else stays plain HTTP.
    let webSocketRouter = Router(context: FramecastWebSocketRequestContext.self)
    if let access = configuration.access {
        // The cookie opens `/ws` (the page's wall); a token does not (it is no picture route).
        webSocketRouter.middlewares.add(BasicAuthMiddleware(access: access, sessions: sessions, issuesCookies: false, links: links))
    }
    WallSocketController(
        catalog: catalog, budget: budget, subscribeTimeout: .nanoseconds(configuration.webSocketSubscribeTimeout.saturatingNanoseconds)
    ).addRoutes(to: webSocketRouter)

    return FramecastApplication(
        configuration: configuration, catalog: catalog, responder: router.buildResponder(),
        webSocketResponder: webSocketRouter.buildResponder(), logger: logger, onServerRunning: onServerRunning)
}

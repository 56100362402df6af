public import Hummingbird
public import Logging
import NIOCore

/// Builds the whole server: the stream supervisor (a Service), the routes and the page. The
/// `framecast` executable and the tests both use it.
///
/// Throws a `PipelineError` when the pipeline cannot be served (checked before anything runs).
public func buildApplication(
    configuration: ServerConfiguration,
    logger: Logger,
    onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
) throws -> some ApplicationProtocol {
    let supervisor = try StreamSupervisor(
        name: "main", pipeline: configuration.pipeline, settings: configuration.stream, logger: logger)
    let router = Router(context: BasicRequestContext.self)
    router.middlewares.add(MethodNotAllowedMiddleware(readOnlyPaths: ["/", "/index.html", "/stream", "/snapshot", "/api/status"]))
    if let webRoot = configuration.webRoot {
        router.middlewares.add(FileMiddleware(webRoot, searchForIndexHtml: true, logger: logger))
    }
    StreamController(supervisor: supervisor).addRoutes(to: router)
    SnapshotController(supervisor: supervisor).addRoutes(to: router)
    StatusController(supervisor: supervisor).addRoutes(to: router)

    return Application(
        router: router,
        configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "Framecast"),
        services: [supervisor],
        onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
        logger: logger
    )
}

public import Logging
public import ServiceLifecycle

/// `--exit-when-idle SECONDS`: ends (and with it the server, gracefully) once no stream has had a
/// client for that long. Meant for socket activation: systemd keeps the port open and starts
/// Framecast again with the next connection.
public struct IdleExit: Service {
    let catalog: StreamCatalog
    let seconds: Double
    let logger: Logger

    public init(catalog: StreamCatalog, seconds: Double, logger: Logger) {
        self.catalog = catalog
        self.seconds = seconds
        self.logger = logger
    }

    public func run() async throws {
        let clock = ContinuousClock()
        var idleSince = clock.now
        // A poll a second at most: the figure needs no precision, and no event is missed (a
        // client is counted from its lease until its release, however short).
        let step = min(1, max(0.05, seconds / 10))
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            if catalog.streams.contains(where: { $0.clientCount > 0 }) {
                idleSince = clock.now
            } else if idleSince.duration(to: clock.now) >= .seconds(seconds) {
                logger.notice("nobody watched for \(seconds.formatted()) s (--exit-when-idle): exiting")
                return
            }
            try? await Task.sleep(for: .seconds(step))
        }
    }
}

import Glibc
public import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
public import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
public import ServiceLifecycle
import Synchronization

/// The server as one service: the streams (`catalog`) and one listener per address, all answering
/// with the same routes. Hummingbird's `Application` binds one host or socket path; Framecast may
/// serve a TCP port, a unix socket and the sockets systemd passed at once, so this runs
/// Hummingbird's HTTP server (or `InheritedSocketServer`) once per address itself.
public struct FramecastApplication: Service {
    public let catalog: StreamCatalog
    private let configuration: ServerConfiguration
    private let responder: HTTPChannelHandler.Responder
    private let webSocketResponder: RouterResponder<FramecastWebSocketRequestContext>
    private let logger: Logger
    private let onServerRunning: @Sendable ([BoundListener]) async -> Void

    init(
        configuration: ServerConfiguration, catalog: StreamCatalog, responder: RouterResponder<FramecastRequestContext>,
        webSocketResponder: RouterResponder<FramecastWebSocketRequestContext>, logger: Logger,
        onServerRunning: @escaping @Sendable ([BoundListener]) async -> Void
    ) {
        self.configuration = configuration
        self.catalog = catalog
        self.webSocketResponder = webSocketResponder
        self.logger = logger
        self.onServerRunning = onServerRunning
        self.responder = Self.httpResponder(responder, logger: logger)
    }

    /// What Hummingbird's `Application` does per request: a context for the route, a 500 for an
    /// error no route turned into a response, and the `Date` and `Server` headers.
    private static func httpResponder(_ responder: RouterResponder<FramecastRequestContext>, logger: Logger) -> HTTPChannelHandler.Responder {
        let date = HTTPDateHeader()
        return { request, responseWriter, channel in
            let context = FramecastRequestContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                response = try await responder.respond(to: request, context: context)
            } catch let error as HTTPParserError {
                throw error
            } catch {
                logger.debug("unhandled error", metadata: ["error": "\(error)"])
                response = Response(status: .internalServerError)
            }
            response.headers[.date] = date.value
            response.headers[.server] = "Framecast"
            do {
                try await responseWriter.write(response: response.head, body: response.body)
            } catch is HTTPParserError {
                // Thrown on, it would make the channel answer the parse error with a second response.
                throw ResponseAbandoned()
            }
        }
    }

    private struct ResponseAbandoned: Error {}

    public func run() async throws {
        let listeners = configuration.listenAddresses
        let bound = Mutex<[Int: BoundListener]>([:])
        let onServerRunning = self.onServerRunning
        let report: @Sendable (Int, BoundListener) async -> Void = { index, listener in
            let all = bound.withLock { bound -> [BoundListener]? in
                bound[index] = listener
                return bound.count == listeners.count ? listeners.indices.compactMap { bound[$0] } : nil
            }
            if let all { await onServerRunning(all) }
        }
        var services: [any Service] = [catalog]
        for (index, address) in listeners.enumerated() {
            services.append(try server(for: address) { channel in
                await report(index, Self.bound(address, channel: channel))
            })
        }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        try await group.run()
    }

    private func server(for address: ListenAddress, onRunning: @escaping @Sendable (any Channel) async -> Void) throws -> any Service {
        let childChannel = TunedChildChannel(
            base: HTTP1WebSocketUpgradeChannel(
                responder: responder, webSocketResponder: webSocketResponder, configuration: channelConfiguration),
            clientTimeout: configuration.clientTimeout,
            requestTimeout: configuration.headerTimeout,
            hostPolicy: HostPolicy(
                bindHost: Self.policyHost(of: address), allowHosts: configuration.allowHosts,
                allowOrigins: configuration.allowOrigin.map { [$0] } ?? []))
        let group = MultiThreadedEventLoopGroup.singleton
        switch address {
        case .tcp(let host, let port):
            return childChannel.server(
                configuration: .init(address: .hostname(host, port: port), serverName: "Framecast"),
                onServerRunning: onRunning, eventLoopGroup: group, logger: logger)
        case .unix(let path, let mode):
            return childChannel.server(
                configuration: .init(address: .unixDomainSocket(path: path), serverName: "Framecast"),
                onServerRunning: { channel in
                    // Made with the process's umask; the mode says who may connect (e.g. nginx's group).
                    chmod(path, mode_t(mode))
                    await onRunning(channel)
                },
                eventLoopGroup: group, logger: logger)
        case .inherited(let descriptor):
            return InheritedSocketServer(
                descriptor: descriptor, childChannel: childChannel, eventLoopGroup: group, logger: logger, onRunning: onRunning)
        }
    }

    private var channelConfiguration: HTTP1WebSocketUpgradeChannel.Configuration {
        HTTP1WebSocketUpgradeChannel.Configuration(
            // The idle timeout also bounds how long a request's headers may take (slow senders).
            http1: .init(idleTimeout: .milliseconds(configuration.headerTimeout.saturatingMilliseconds)),
            // A subscribed session that leaves a ping unanswered for --client-timeout is closed.
            ws: .init(maxFrameSize: 64 * 1024, autoPing: .enabled(timePeriod: .milliseconds(configuration.clientTimeout.saturatingMilliseconds)))
        )
    }

    /// The host the `Host` check treats a listener as bound to (see `HostPolicy`). A unix socket
    /// sits behind a proxy that passes the public name: it is treated like a public address.
    private static func policyHost(of address: ListenAddress) -> String {
        switch address {
        case .tcp(let host, _): host
        case .unix: "unix"
        case .inherited(let descriptor): InheritedSockets.localHost(of: descriptor) ?? "unix"
        }
    }

    private static func bound(_ address: ListenAddress, channel: any Channel) -> BoundListener {
        let port = channel.localAddress?.port
        switch address {
        case .tcp(let host, _):
            return BoundListener(address: address, port: port, description: ListenAddress.tcp(host: host, port: port ?? 0).description)
        case .unix:
            return BoundListener(address: address, port: nil, description: address.description)
        case .inherited:
            let shown = channel.localAddress.map { local in
                local.port.map { "http://\(local.ipAddress ?? "?"):\($0)/ (inherited)" } ?? "\(local) (inherited)"
            }
            return BoundListener(address: address, port: port, description: shown ?? address.description)
        }
    }
}

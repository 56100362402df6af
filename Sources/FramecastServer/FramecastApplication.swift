import Glibc
public import Hummingbird
import HummingbirdCore
import HummingbirdHTTP2
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
    /// The same routes, answered as over HTTPS (`Strict-Transport-Security`, secure cookies).
    private let secureResponder: HTTPChannelHandler.Responder
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
        self.responder = Self.httpResponder(responder, logger: logger, secure: false, hstsMaxAge: 0)
        self.secureResponder = Self.httpResponder(responder, logger: logger, secure: true, hstsMaxAge: configuration.hstsMaxAge)
    }

    /// What Hummingbird's `Application` does per request: a context for the route, a 500 for an
    /// error no route turned into a response, and the `Date` and `Server` headers.
    /// `secure`: the request came over TLS; `hstsMaxAge` > 0 then adds `Strict-Transport-Security`.
    private static func httpResponder(
        _ responder: RouterResponder<FramecastRequestContext>, logger: Logger, secure: Bool, hstsMaxAge: Int
    ) -> HTTPChannelHandler.Responder {
        let date = HTTPDateHeader()
        let hsts = secure && hstsMaxAge > 0 ? "max-age=\(hstsMaxAge)" : nil
        return { request, responseWriter, channel in
            var context = FramecastRequestContext(source: .init(channel: channel, logger: logger))
            context.isSecure = secure
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
            if let hsts { response.headers[.strictTransportSecurity] = hsts }
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
        let httpsPort = HTTPSPort(configuration.port)
        for (index, address) in listeners.enumerated() {
            let isSecure = secure(address)
            services.append(try server(for: address) { channel in
                let listener = Self.bound(address, channel: channel, secure: isSecure)
                if listener.secure, let port = listener.port { httpsPort.set(port) }
                await report(index, listener)
            })
        }
        if let redirectPort = configuration.redirectHTTPPort {
            services.append(redirectServer(host: configuration.host, port: redirectPort, to: httpsPort))
        }
        if let certificates = configuration.tls {
            services.append(CertificateWatcher(certificates: certificates, interval: configuration.tlsCheckInterval, logger: logger))
        }
        let group = ServiceGroup(configuration: .init(services: services, logger: logger))
        try await group.run()
    }

    /// Whether `address` serves HTTPS: TCP ports (bound here or by systemd) when there is a
    /// certificate; a unix socket stays plain HTTP for the proxy in front of it.
    private func secure(_ address: ListenAddress) -> Bool {
        guard configuration.tls != nil else { return false }
        switch address {
        case .tcp: return true
        case .inherited(let descriptor): return InheritedSockets.localHost(of: descriptor) != nil
        case .unix: return false
        }
    }

    private func connectionSetup(for address: ListenAddress) -> ConnectionSetup {
        ConnectionSetup(
            clientTimeout: configuration.clientTimeout,
            requestTimeout: configuration.headerTimeout,
            hostPolicy: HostPolicy(
                bindHost: Self.policyHost(of: address), allowHosts: configuration.allowHosts,
                allowOrigins: configuration.allowOrigin.map { [$0] } ?? []))
    }

    private func server(for address: ListenAddress, onRunning: @escaping @Sendable (any Channel) async -> Void) throws -> any Service {
        let setup = connectionSetup(for: address)
        if secure(address), let certificates = configuration.tls {
            let childChannel = SecureChildChannel(
                certificates: certificates,
                http1: HTTP1WebSocketUpgradeChannel(
                    responder: secureResponder, webSocketResponder: webSocketResponder, configuration: channelConfiguration),
                responder: secureResponder, setup: setup,
                connectionIdleTimeout: .milliseconds(configuration.headerTimeout.saturatingMilliseconds))
            return server(childChannel, at: address, onRunning: onRunning)
        }
        let childChannel = TunedChildChannel(
            base: HTTP1WebSocketUpgradeChannel(
                responder: responder, webSocketResponder: webSocketResponder, configuration: channelConfiguration),
            setup: setup)
        return server(childChannel, at: address, onRunning: onRunning)
    }

    /// `--redirect-http`: plain HTTP on `port` answering every request with a redirect to HTTPS.
    private func redirectServer(host: String, port: Int, to httpsPort: HTTPSPort) -> any Service {
        let address = ListenAddress.tcp(host: host, port: port)
        let childChannel = TunedChildChannel(
            base: HTTP1Channel(
                responder: HTTPSRedirect(httpsPort: httpsPort).responder,
                configuration: .init(idleTimeout: .milliseconds(configuration.headerTimeout.saturatingMilliseconds))),
            setup: connectionSetup(for: address))
        let logger = self.logger
        return server(childChannel, at: address) { channel in
            logger.info("redirecting http://\(host):\(channel.localAddress?.port ?? port)/ to HTTPS")
        }
    }

    private func server<ChildChannel: ServerChildChannel>(
        _ childChannel: ChildChannel, at address: ListenAddress, onRunning: @escaping @Sendable (any Channel) async -> Void
    ) -> any Service {
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

    private static func bound(_ address: ListenAddress, channel: any Channel, secure: Bool) -> BoundListener {
        let port = channel.localAddress?.port
        let scheme = secure ? "https" : "http"
        switch address {
        case .tcp(let host, _):
            let shown = ListenAddress.tcp(host: host, port: port ?? 0).description
            return BoundListener(address: address, port: port, secure: secure, description: secure ? "https" + shown.dropFirst(4) : shown)
        case .unix:
            return BoundListener(address: address, port: nil, secure: false, description: address.description)
        case .inherited:
            let shown = channel.localAddress.map { local in
                local.port.map { "\(scheme)://\(local.ipAddress ?? "?"):\($0)/ (inherited)" } ?? "\(local) (inherited)"
            }
            return BoundListener(address: address, port: port, secure: secure, description: shown ?? address.description)
        }
    }
}

import HummingbirdCore
import HummingbirdHTTP2
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP2
import NIOSSL
import NIOTLS

/// An HTTPS listener's connections: TLS with the certificate in force when the connection opens
/// (`TLSCertificates`), then HTTP/2 when the client offers it by ALPN, HTTP/1.1 (with the
/// WebSocket upgrade) otherwise. Both get what every connection gets (`ConnectionSetup`).
///
/// Hummingbird's `HTTP2UpgradeChannel` does the same with a fixed certificate and a plain
/// HTTP/1.1 side: this one picks up a renewed certificate and keeps Framecast's HTTP/1.1 side.
struct SecureChildChannel: ServerChildChannel {
    typealias Negotiated = NIONegotiatedHTTPVersion<HTTP1WebSocketUpgradeChannel.Value, HTTP2Channel.Value>

    struct Value: ServerChildChannelValue {
        let negotiated: EventLoopFuture<Negotiated>
        let channel: any Channel
    }

    let certificates: TLSCertificates
    let http1: HTTP1WebSocketUpgradeChannel
    let http2: HTTP2Channel
    let setup: ConnectionSetup

    /// `connectionIdleTimeout`: an HTTP/2 connection with no stream open for this long is closed
    /// (HTTP/1.1's keep-alive idle timeout is the request deadline's).
    init(
        certificates: TLSCertificates, http1: HTTP1WebSocketUpgradeChannel, responder: @escaping HTTPChannelHandler.Responder,
        setup: ConnectionSetup, connectionIdleTimeout: Duration
    ) {
        self.certificates = certificates
        self.http1 = http1
        self.setup = setup
        let policy = setup.hostPolicy
        self.http2 = HTTP2Channel(
            responder: responder,
            configuration: .init(
                idleTimeout: connectionIdleTimeout,
                gracefulCloseTimeout: .seconds(1),
                // Each stream has its own client timeout: a stream whose reader stopped (its
                // flow-control window stays shut) is reset without touching the others.
                streamConfiguration: .init(
                    additionalChannelHandlers: [
                        setup.writeTimeout(),
                        HTTP2RequestGate(policy: policy, requestTimeout: .milliseconds(setup.requestTimeout.saturatingMilliseconds)),
                    ])))
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        setup.prepare(channel, logger: logger).flatMapThrowing { deadline in
            try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: certificates.context))
            let negotiation = NIOTypedApplicationProtocolNegotiationHandler<Negotiated> { result in
                switch result {
                case .negotiated("h2"):
                    // The request deadline stays: it runs while the connection has no stream open
                    // (see `HTTP2RequestGate`), so a silent connection is closed too.
                    return http2.setup(channel: channel, logger: logger).flatMapThrowing { value in
                        // After the HTTP/2 handler: it reads the client's settings.
                        try channel.pipeline.syncOperations.addHandler(HTTP2SendWindows())
                        return .http2(value)
                    }
                case .negotiated("http/1.1"), .fallback:
                    return http1.setup(channel: channel, logger: logger).flatMapThrowing { value in
                        try setup.gateHTTP1(channel, deadline: deadline.value)
                        return .http1_1(value)
                    }
                case .negotiated:
                    return channel.close().flatMapThrowing { throw NIOHTTP2Errors.invalidALPNToken() }
                }
            }
            try channel.pipeline.syncOperations.addHandler(negotiation)
            return Value(negotiated: negotiation.protocolNegotiationResult, channel: channel)
        }
    }

    func handle(value: Value, logger: Logger) async {
        do {
            switch try await value.negotiated.get() {
            case .http1_1(let connection):
                await http1.handle(value: connection, logger: logger)
            case .http2(let connection):
                await http2.handle(value: connection, logger: logger)
            }
        } catch {
            // A failed handshake (a plain HTTP request on the HTTPS port, a client that does not
            // trust the certificate): nothing was served.
            logger.debug("TLS connection ended before a request: \(error)")
        }
        try? await value.channel.close()
    }
}

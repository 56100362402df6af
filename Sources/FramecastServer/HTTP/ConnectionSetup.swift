import Logging
import NIOCore
import NIOHTTP1

/// What every connection gets before and after its HTTP handlers, on every listener (plain,
/// TLS, HTTP/2): the queue limits (`ConnectionLimits`), the client timeout (`WriteTimeoutHandler`),
/// the request deadline, and, on HTTP/1.1, the request gate.
struct ConnectionSetup: Sendable {
    /// Seconds a write may take to complete before the connection is closed.
    let clientTimeout: Double
    /// Seconds each request may take to arrive whole (see `RequestDeadlineHandler`).
    let requestTimeout: Double
    /// Which `Host` and WebSocket `Origin` are served (see `RequestGate`).
    let hostPolicy: HostPolicy

    /// Next to the socket: the client timeout (it sees every write) and the request deadline
    /// (it sees every byte read, encrypted or not, so a TLS handshake is under it too).
    func prepare(_ channel: any Channel, logger: Logger) -> EventLoopFuture<NIOLoopBound<RequestDeadlineHandler>> {
        let requestTimeout = self.requestTimeout
        return ConnectionLimits.apply(to: channel)
            .flatMapErrorThrowing { error in
                logger.debug("could not bound the socket's queue: \(error)")
            }
            .flatMapThrowing {
                let deadline = RequestDeadlineHandler(deadline: .milliseconds(requestTimeout.saturatingMilliseconds))
                try channel.pipeline.syncOperations.addHandler(self.writeTimeout(), position: .first)
                try channel.pipeline.syncOperations.addHandler(deadline)
                return NIOLoopBound(deadline, eventLoop: channel.eventLoop)
            }
    }

    func writeTimeout() -> WriteTimeoutHandler {
        WriteTimeoutHandler(timeout: .milliseconds(clientTimeout.saturatingMilliseconds))
    }

    /// Once the HTTP/1.1 handlers are in: the gate right after the HTTP decoder, ahead of the
    /// WebSocket upgrade and Hummingbird. On the channel's loop.
    func gateHTTP1(_ channel: any Channel, deadline: RequestDeadlineHandler) throws {
        let decoder = try channel.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
        try channel.pipeline.syncOperations.addHandler(RequestGate(policy: hostPolicy, deadline: deadline), position: .after(decoder.handler))
        try channel.pipeline.syncOperations.addHandler(MalformedRequestCloser())
    }
}

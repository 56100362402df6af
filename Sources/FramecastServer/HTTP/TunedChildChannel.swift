import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Wraps the HTTP/WebSocket child channel with what every connection gets: the queue limits
/// (`ConnectionLimits`), the client timeout (`WriteTimeoutHandler`), the request deadline and gate.
struct TunedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    /// Seconds a write may take to complete before the connection is closed.
    let clientTimeout: Double
    /// Seconds each request may take to arrive whole (see `RequestDeadlineHandler`).
    let requestTimeout: Double
    /// Which `Host` and WebSocket `Origin` are served (see `RequestGate`).
    let hostPolicy: HostPolicy

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let deadline = RequestDeadlineHandler(deadline: .milliseconds(requestTimeout.saturatingMilliseconds))
        return ConnectionLimits.apply(to: channel)
            .flatMapErrorThrowing { error in
                logger.debug("could not bound the socket's queue: \(error)")
            }
            .flatMapThrowing {
                // First in the pipeline: next to the socket, it sees every write.
                try channel.pipeline.syncOperations.addHandler(
                    WriteTimeoutHandler(timeout: .milliseconds(clientTimeout.saturatingMilliseconds)), position: .first)
                try channel.pipeline.syncOperations.addHandler(deadline)
            }
            .flatMap { base.setup(channel: channel, logger: logger) }
            .flatMapThrowing { value in
                // Right after the HTTP decoder, ahead of the WebSocket upgrade and Hummingbird.
                let decoder = try channel.pipeline.syncOperations.context(handlerType: ByteToMessageHandler<HTTPRequestDecoder>.self)
                try channel.pipeline.syncOperations.addHandler(
                    RequestGate(policy: hostPolicy, deadline: deadline), position: .after(decoder.handler))
                try channel.pipeline.syncOperations.addHandler(MalformedRequestCloser())
                return value
            }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
        // A request that fails to parse (a malformed request line, oversized or broken headers)
        // ends the handler without closing the connection when the WebSocket upgrade is in the
        // pipeline: close it here, or a hostile client holds it forever.
        try? await value.channel.close()
    }
}

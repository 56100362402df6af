import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1

/// Wraps the HTTP/WebSocket child channel to bound what each connection can queue.
///
/// A client slower than the stream must get fewer frames, never older ones. Two buffers could hold
/// old frames: NIO's outbound buffer (bounded by the write-buffer watermarks for WebSockets and
/// ordinary responses; a stream's fan-out keeps at most one frame in it by itself) and the kernel's
/// socket send buffer, which grows to megabytes on its own.
/// `TCP_NOTSENT_LOWAT` caps the bytes the kernel holds unsent, so the socket reports "full" as soon
/// as a little is queued and the next frame is taken from the hub only when the previous one has
/// almost left: the newest frame, not one queued seconds ago.
struct TunedChildChannel<Base: ServerChildChannel>: ServerChildChannel {
    typealias Value = Base.Value

    let base: Base
    /// Unsent bytes the kernel may hold per connection.
    let unsentLowWatermark: Int
    /// Seconds a pending write may make no progress before the connection is closed.
    let clientTimeout: Double
    /// Seconds each request may take to arrive whole (see `RequestDeadlineHandler`).
    let requestTimeout: Double
    /// Which `Host` and WebSocket `Origin` are served (see `RequestGate`).
    let hostPolicy: HostPolicy

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let notSentLowWatermark = ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: 25))  // TCP_NOTSENT_LOWAT
        let deadline = RequestDeadlineHandler(deadline: .milliseconds(requestTimeout.saturatingMilliseconds))
        return channel.setOption(notSentLowWatermark, value: SocketOptionValue(unsentLowWatermark))
            .flatMap {
                channel.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 8 * 1024, high: 16 * 1024))
            }
            .flatMapErrorThrowing { error in
                // Not fatal: some platforms lack the option; the server still works, with deeper queues.
                logger.debug("could not bound the socket's queue: \(error)")
            }
            .flatMapThrowing {
                // First in the pipeline: next to the socket, it sees every write.
                try channel.pipeline.syncOperations.addHandler(
                    StalledWriteHandler(timeout: .milliseconds(clientTimeout.saturatingMilliseconds)), position: .first)
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

/// Closes a connection whose request cannot be parsed. With the WebSocket upgrade in the
/// pipeline, a parse error of the first request is otherwise swallowed and the connection stays
/// open, answered by nothing, for as long as the client likes.
final class MalformedRequestCloser: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPParserError || error is ByteToMessageDecoderError {
            context.close(promise: nil)
        }
        context.fireErrorCaught(error)
    }
}

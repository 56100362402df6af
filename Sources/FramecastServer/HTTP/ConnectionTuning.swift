import HummingbirdCore
import Logging
import NIOCore

/// Wraps the HTTP/WebSocket child channel to bound what each connection can queue.
///
/// A client slower than the stream must get fewer frames, never older ones. Two buffers could hold
/// old frames: NIO's outbound buffer (bounded by the write-buffer watermarks: a write waits once one
/// frame is pending) and the kernel's socket send buffer, which grows to megabytes on its own.
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

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let notSentLowWatermark = ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: 25))  // TCP_NOTSENT_LOWAT
        return channel.setOption(notSentLowWatermark, value: SocketOptionValue(unsentLowWatermark))
            .flatMap {
                channel.setOption(ChannelOptions.writeBufferWaterMark, value: .init(low: 16 * 1024, high: 32 * 1024))
            }
            .flatMapErrorThrowing { error in
                // Not fatal: some platforms lack the option; the server still works, with deeper queues.
                logger.debug("could not bound the socket's queue: \(error)")
            }
            .flatMapThrowing {
                // First in the pipeline: next to the socket, it sees every write.
                try channel.pipeline.syncOperations.addHandler(
                    StalledWriteHandler(timeout: .milliseconds(Int64(clientTimeout * 1000))), position: .first)
            }
            .flatMap { base.setup(channel: channel, logger: logger) }
    }

    func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

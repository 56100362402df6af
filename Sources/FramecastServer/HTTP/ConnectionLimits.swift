import CFramecastLinux
import NIOCore

/// How much each connection may queue, in one place.
///
/// A client slower than the stream must get fewer frames, never older ones. Two buffers could hold
/// old frames: NIO's outbound buffer and the kernel's socket send buffer, which grows to megabytes
/// on its own. `TCP_NOTSENT_LOWAT` caps the bytes the kernel holds unsent, so the socket reports
/// "full" as soon as a little is queued and the next frame is taken only when the previous one has
/// almost left: the newest frame, not one queued seconds ago. NIO's buffer is bounded by the
/// watermarks for ordinary responses and WebSockets; a multipart stream bounds it by itself (at most
/// one frame in flight).
enum ConnectionLimits {
    /// Unsent bytes the kernel may hold per connection.
    static let unsentLowWatermark = 8 * 1024
    /// NIO's outbound buffer for ordinary responses and WebSockets.
    static let writeBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 8 * 1024, high: 16 * 1024)
    /// NIO's outbound buffer once a connection streams multipart frames. Its own bound is not
    /// needed (one frame in flight at most), and a frame larger than the usual high mark would
    /// flip the channel's writability twice per write, an event that walks every handler of the
    /// pipeline: measured at 3% of the server's CPU with 400 clients.
    static let streamWriteBufferWaterMark = ChannelOptions.Types.WriteBufferWaterMark(low: 32 << 20, high: 64 << 20)

    /// Applies the socket and buffer limits to a new connection. Failing is not fatal: some
    /// platforms lack the option, and the server still works, with deeper queues.
    static func apply(to channel: any Channel) -> EventLoopFuture<Void> {
        let option = fc_tcp_notsent_lowat()
        let unsent: EventLoopFuture<Void> =
            option < 0
            ? channel.eventLoop.makeSucceededVoidFuture()
            : channel.setOption(
                ChannelOptions.Types.SocketOption(level: .tcp, name: .init(rawValue: option)), value: SocketOptionValue(unsentLowWatermark))
        return unsent.flatMap { channel.setOption(ChannelOptions.writeBufferWaterMark, value: writeBufferWaterMark) }
    }
}

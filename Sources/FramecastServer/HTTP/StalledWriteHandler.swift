import NIOCore

/// `--client-timeout`: closes a connection that has stayed unwritable (its client accepts no bytes,
/// so everything queued for it is stuck) for `timeout`. Follows the channel's writability, not each
/// write, so it costs nothing per frame; a connection with nothing to write stays writable and is
/// never closed by it. A slow client drains now and then and turns writable again. Multipart
/// stream connections never turn unwritable (see `StreamFanOut`): their fan-out applies the same
/// timeout to the frame it is writing.
final class StalledWriteHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let timeout: TimeAmount
    private var unwritableSince: NIODeadline?
    private var check: RepeatedTask?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        // A few checks per timeout: the connection is closed between 1 and 1.25 timeouts in.
        let period = TimeAmount.nanoseconds(max(timeout.nanoseconds / 4, 1_000_000))
        check = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            let (handler, context) = loopBound.value
            if let since = handler.unwritableSince, NIODeadline.now() - since >= handler.timeout {
                handler.unwritableSince = nil
                context.close(promise: nil)
            }
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            unwritableSince = nil
        } else if unwritableSince == nil {
            unwritableSince = .now()
        }
        context.fireChannelWritabilityChanged()
    }
}

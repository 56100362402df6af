import NIOCore

/// `--client-timeout`: closes a connection whose pending write has not completed for `timeout`,
/// i.e. a client that accepted no bytes for that long. Sits next to the socket, so it sees every
/// write of an HTTP stream and of a WebSocket alike; a connection with nothing to write is never
/// closed by it.
final class StalledWriteHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let timeout: TimeAmount
    private var pending = 0
    /// When the oldest write still pending was queued, or the last completion since then.
    private var lastProgress = NIODeadline.now()
    private var check: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let promise = promise ?? context.eventLoop.makePromise()
        if pending == 0 { lastProgress = .now() }
        pending += 1
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        promise.futureResult.whenComplete { _ in
            let (handler, context) = loopBound.value
            handler.pending -= 1
            handler.lastProgress = .now()
            if handler.pending == 0 { handler.cancelCheck() } else { handler.scheduleCheck(context) }
        }
        scheduleCheck(context)
        context.write(data, promise: promise)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelCheck()
    }

    private func scheduleCheck(_ context: ChannelHandlerContext) {
        guard check == nil else { return }
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleTask(deadline: lastProgress + timeout) {
            let (handler, context) = loopBound.value
            handler.check = nil
            guard handler.pending > 0 else { return }
            if NIODeadline.now() >= handler.lastProgress + handler.timeout {
                context.close(promise: nil)
            } else {
                handler.scheduleCheck(context)
            }
        }
    }

    private func cancelCheck() {
        check?.cancel()
        check = nil
    }
}

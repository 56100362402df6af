import NIOCore

/// `--client-timeout`, the one client timeout of every connection (HTTP responses, multipart
/// streams, WebSockets): a write that has not completed within it closes the connection.
///
/// Next to the socket, so every write passes it, except a multipart stream's frames: that writer
/// sits nearer the socket still and reports each write it starts and completes here instead
/// (`writeStarted` / `writeCompleted`), which spares every frame sent a handler and a callback
/// (about 10% of the server's CPU at 800 clients). It counts writes in flight
/// and remembers since when the connection has waited for one to complete (the oldest write's
/// start, or the last completion): a slow client that keeps accepting bytes is never closed, one
/// that accepts none is closed between 1 and 1.25 timeouts in. A connection with nothing to write
/// is never closed by it (idle connections are the request deadline's and the WebSocket ping's).
/// Its check runs a few times per timeout, and only while the connection writes: an idle
/// keep-alive connection has no timer at all.
final class WriteTimeoutHandler: ChannelOutboundHandler, RemovableChannelHandler {
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    private let timeout: TimeAmount
    private var inFlight = 0
    private var waitingSince: NIODeadline?
    private var check: RepeatedTask?
    private var context: ChannelHandlerContext?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    /// A write issued past this handler has started. On the connection's loop.
    func writeStarted() {
        guard let context else { return }
        started(context: context)
    }

    /// A write reported by `writeStarted` has completed (or failed). On the connection's loop.
    func writeCompleted() {
        guard let context else { return }
        completed(now: context.eventLoop.now)
    }

    /// Starts the check if it is not running: on a write.
    private func startChecking(context: ChannelHandlerContext) {
        guard check == nil else { return }
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let period = TimeAmount.nanoseconds(max(timeout.nanoseconds / 4, 1_000_000))
        check = context.eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { task in
            let (handler, context) = bound.value
            if handler.waitingSince == nil {
                // Nothing in flight for a whole period: the next write starts it again.
                task.cancel()
                handler.check = nil
                return
            }
            handler.closeIfStalled(context: context, now: context.eventLoop.now)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        self.context = nil
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let promise = promise ?? context.eventLoop.makePromise()
        started(context: context)
        let eventLoop = context.eventLoop
        promise.futureResult.assumeIsolated().whenComplete { _ in self.completed(now: eventLoop.now) }
        context.write(data, promise: promise)
    }

    private func started(context: ChannelHandlerContext) {
        // The loop's clock, not the system's: the same on a real loop, controllable in tests.
        if inFlight == 0 { waitingSince = context.eventLoop.now }
        inFlight += 1
        startChecking(context: context)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        if mode == .all {
            check?.cancel()
            check = nil
        }
        context.close(mode: mode, promise: promise)
    }

    private func completed(now: NIODeadline) {
        guard inFlight > 0 else { return }
        inFlight -= 1
        // Progress: the wait for the next completion starts now.
        waitingSince = inFlight > 0 ? now : nil
    }

    private func closeIfStalled(context: ChannelHandlerContext, now: NIODeadline) {
        guard let since = waitingSince, now - since >= timeout else { return }
        waitingSince = nil
        context.close(promise: nil)
    }
}

import NIOCore

/// `--header-timeout`: one deadline for the whole of each request, head and body. It starts when
/// the connection opens (and again when a response has been sent, for the next request on a
/// kept-alive connection, or when a pipelined request's head arrives) and is cleared only when the
/// request's last byte has been parsed, which `RequestGate` reports. A client that sends leading blank lines, trickles its head or its body
/// a byte at a time, or sends nothing, is closed when it runs out; however slowly it sends,
/// nothing it sends moves the deadline.
///
/// First in the pipeline, before the HTTP decoder, so that bytes the decoder skips (the blank
/// lines before a request line) or never completes are still under the deadline. Used only on
/// the connection's event loop.
final class RequestDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let deadline: TimeAmount
    private var context: ChannelHandlerContext?
    private var timer: Scheduled<Void>?
    private var openStreams = 0

    init(deadline: TimeAmount) {
        self.deadline = deadline
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        arm()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    /// The current request has arrived whole: it is no longer under the deadline.
    func requestReceived() {
        disarm()
    }

    /// A response was sent: the next request (or the connection's close) is due within the deadline.
    func awaitingRequest() {
        arm()
    }

    /// HTTP/2: a stream opened on this connection. The connection is under the deadline only
    /// while it has none open (each stream has its own request deadline, `HTTP2RequestGate`).
    func streamOpened() {
        openStreams += 1
        disarm()
    }

    /// HTTP/2: a stream closed; with none left the connection has the deadline to open another.
    func streamClosed() {
        openStreams -= 1
        if openStreams == 0 { arm() }
    }

    /// A request began while the clock was stopped (it was pipelined behind one being answered):
    /// its time runs from now. A clock already running keeps its earlier start.
    func startIfStopped() {
        if timer == nil { arm() }
    }

    private func arm() {
        guard let context else { return }
        timer?.cancel()
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: deadline) {
            bound.value.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}

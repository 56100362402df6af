import CoreMetrics
import NIOCore
import NIOHTTP2

/// How a multipart client's stream ended.
enum MultipartEnd: Sendable {
    /// The connection closed.
    case clientLeft
    /// The server ended it (shutdown): the connection is open and may be closed politely.
    case stopped
}

/// One HTTP multipart stream client: a handler below the HTTP encoder (its writes skip it: each
/// chunk is already framed) and a consumer of its stream's hub. On HTTP/1.1 it sits next to the
/// socket, or next to TLS; on HTTP/2 it heads the response's stream channel and writes DATA frames.
///
/// At most one frame is written at a time and at most one waits: the newest. A write completes
/// when its last byte is in the kernel, and `TCP_NOTSENT_LOWAT` keeps the kernel from taking much
/// more than the client reads (see `ConnectionLimits`), so the next frame sent is always the
/// newest one, not one queued seconds ago. Used only on the connection's event loop.
final class MultipartConnection: ChannelInboundHandler, RemovableChannelHandler, FrameConsumer {
    typealias InboundIn = NIOAny

    private let hub: FrameHub
    private let framing: StreamFraming
    private let wire: MultipartWire
    /// Whether frames may have a memory file at all (`--no-sendfile` says no).
    private let useMemoryFile: Bool
    private var limit: ClientRateLimit
    private let metrics: StreamMetrics
    private let ended: EventLoopPromise<MultipartEnd>
    /// The loop's tally, set when the connection joins the hub.
    var tally: SendTally?
    /// The connection's client timeout, told of every write (they do not pass it).
    var writeTimeout: WriteTimeoutHandler?
    /// On HTTP/2: this response's stream's send window (see `HTTP2SendWindows`).
    var sendWindow: HTTP2StreamWindow?
    /// A frame waits in the slot for the stream's window to open (HTTP/2).
    private var waitingForRoom = false
    /// The client timeout runs for that wait: it ends only when a frame goes, so a reader that
    /// grants a byte at a time is still a stalled client.
    private var waitCounted = false
    private var context: ChannelHandlerContext?
    /// False once the session ended (the client left, or the server stopped it).
    private(set) var isActive = true
    private var joined = false
    /// The one write on its way, if any.
    private var inFlight: InFlight?
    private var slot = NewestFrameSlot()
    private var lastSequence: UInt64 = 0

    /// What a write in flight needs when it completes: the loop's part (which keeps the memory
    /// file open until then), not the frame.
    private struct InFlight {
        let part: MultipartLoopPart
        let bytes: Int
        /// Counts toward the delivery metric (a new, real frame).
        let measured: Bool
    }

    init(
        hub: FrameHub, framing: StreamFraming, fps: Double?, wire: MultipartWire, useMemoryFile: Bool, metrics: StreamMetrics,
        ended: EventLoopPromise<MultipartEnd>
    ) {
        self.wire = wire
        self.hub = hub
        self.framing = framing
        self.limit = ClientRateLimit(fps: fps)
        self.useMemoryFile = useMemoryFile
        self.metrics = metrics
        self.ended = ended
    }

    /// Joins the hub and takes the newest frame as the first. Call once the handler is added.
    func join() {
        guard isActive, let context else { return }
        guard let joined = hub.attach(self, on: context.eventLoop) else {
            return  // finished: `hubFinished` ended the session
        }
        self.joined = true
        tally = joined.tally
        if let latest = joined.latest { _ = offer(latest) }
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if !context.channel.isActive {
            end(.clientLeft)
            return
        }
        // Keep reading: a departed client is noticed at once (end of input), not at the next
        // failed write, and nothing it sends piles up anywhere.
        context.read()
    }

    /// Bytes after the stream's request mean nothing (the response never ends): dropped here,
    /// before the HTTP decoder. On HTTP/2 they go on: the window counter behind reads them.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if wire == .http2 { context.fireChannelRead(data) }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if isActive { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // (An HTTP/2 request ends its stream's input with the request: that is no departure.)
        if wire != .http2, case .inputClosed = event as? ChannelEvent {
            // The client closed its side: it is gone.
            end(.clientLeft)
            context.close(promise: nil)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        end(.clientLeft)
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        end(.clientLeft)
        context.fireChannelInactive()
    }

    // MARK: - FrameConsumer

    func offer(_ publication: LoopPublication) -> Bool {
        guard isActive else { return false }
        let outcome = slot.put(publication)
        if inFlight != nil || waitingForRoom { return outcome == .replaced }
        guard case .stored = outcome else { return false }
        sendWaiting()
        return false
    }

    /// Sends the frame in the slot, if nothing is in flight and (HTTP/2) its stream has room.
    private func sendWaiting() {
        guard isActive, inFlight == nil, !waitingForRoom, let context, let waiting = slot.waiting else { return }
        let part = loopPart(of: waiting, on: context.eventLoop)
        if let sendWindow {
            let bytes = part.data(for: framing, wire: wire).readableBytes
            let fits = sendWindow.fits(bytes) {
                self.waitingForRoom = false
                self.sendWaiting()
            }
            guard fits else {
                // Stays in the slot, where newer frames replace it until the reader makes room.
                // A reader that makes none for --client-timeout is a stalled client.
                waitingForRoom = true
                if !waitCounted {
                    waitCounted = true
                    writeTimeout?.writeStarted()
                }
                return
            }
            if waitCounted {
                waitCounted = false
                writeTimeout?.writeCompleted()
            }
        }
        _ = slot.take()
        // `?fps=`: a frame not admitted is not sent to this client at all.
        guard limit.admit() else { return }
        send(part)
    }

    func hubFinished() {
        end(.stopped)
    }

    /// Ends the client's frames from the server's side (shutdown); what is in flight still goes.
    func stop() {
        end(.stopped)
    }

    // MARK: - Writing

    /// The frame as this loop's multipart clients share it, made by the first of them.
    private func loopPart(of publication: LoopPublication, on eventLoop: any EventLoop) -> MultipartLoopPart {
        if let made = publication.multipart { return made }
        let part = MultipartLoopPart(publication.frame, useMemoryFile: useMemoryFile, eventLoop: eventLoop)
        publication.multipart = part
        return part
    }

    private func send(_ part: MultipartLoopPart) {
        guard let context else { return }
        let data = part.data(for: framing, wire: wire)
        inFlight = InFlight(part: part, bytes: data.readableBytes, measured: !part.isPlaceholder && part.sequence != lastSequence)
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { self.written($0) }
        writeTimeout?.writeStarted()
        switch wire {
        case .http1Sendfile, .http1Copy:
            context.writeAndFlush(NIOAny(data), promise: promise)
        case .http2:
            // Sent only when the stream's window takes it whole (see `sendWaiting`): it goes out
            // at once, behind only the connection's other streams.
            sendWindow?.sent(data.readableBytes)
            context.writeAndFlush(NIOAny(HTTP2Frame.FramePayload.data(.init(data: data))), promise: promise)
        }
    }

    private func written(_ result: Result<Void, any Error>) {
        guard let write = inFlight else { return }
        inFlight = nil
        writeTimeout?.writeCompleted()
        guard case .success = result else {
            // The connection failed; it closes and `channelInactive` ends the session.
            slot.clear()
            return
        }
        tally?.frames += 1
        tally?.bytes += write.bytes
        if write.measured {
            // Repeats of an old frame would only measure how long the scene was still.
            lastSequence = write.part.sequence
            let microseconds = WallClock.now().microseconds - write.part.capturedAt.microseconds
            metrics.delivery.recordNanoseconds(max(0, microseconds) * 1000)
        }
        sendWaiting()
    }

    private func end(_ reason: MultipartEnd) {
        guard isActive else { return }
        isActive = false
        slot.clear()
        sendWindow?.cancel()
        if joined, let context {
            hub.detach(self, on: context.eventLoop)
        }
        joined = false
        ended.succeed(reason)
    }
}

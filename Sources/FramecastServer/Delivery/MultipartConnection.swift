import CoreMetrics
import NIOCore

/// How a multipart client's stream ended.
enum MultipartEnd: Sendable {
    /// The connection closed.
    case clientLeft
    /// The server ended it (shutdown): the connection is open and may be closed politely.
    case stopped
}

/// One HTTP multipart stream client: a handler near the socket (its writes skip the HTTP encoder:
/// each chunk is already framed) and a consumer of its stream's hub.
///
/// At most one frame is written at a time and at most one waits: the newest. A write completes
/// when its last byte is in the kernel, and `TCP_NOTSENT_LOWAT` keeps the kernel from taking much
/// more than the client reads (see `ConnectionLimits`), so the next frame sent is always the
/// newest one, not one queued seconds ago. Used only on the connection's event loop.
final class MultipartConnection: ChannelInboundHandler, RemovableChannelHandler, FrameConsumer {
    typealias InboundIn = NIOAny

    private let hub: FrameHub
    private let framing: StreamFraming
    private let useMemoryFile: Bool
    private var limit: ClientRateLimit
    private let metrics: StreamMetrics
    private let ended: EventLoopPromise<MultipartEnd>
    /// The loop's tally, set when the connection joins the hub.
    var tally: SendTally?
    /// The connection's client timeout, told of every write (they do not pass it).
    var writeTimeout: WriteTimeoutHandler?
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
        hub: FrameHub, framing: StreamFraming, fps: Double?, useMemoryFile: Bool, metrics: StreamMetrics,
        ended: EventLoopPromise<MultipartEnd>
    ) {
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
    /// before the HTTP decoder.
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}

    func channelReadComplete(context: ChannelHandlerContext) {
        if isActive { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed = event as? ChannelEvent {
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
        if inFlight != nil { return outcome == .replaced }
        guard case .stored = outcome, let next = slot.take() else { return false }
        // `?fps=`: a frame not admitted is not sent to this client at all.
        guard limit.admit() else { return false }
        send(next)
        return false
    }

    func hubFinished() {
        end(.stopped)
    }

    /// Ends the client's frames from the server's side (shutdown); what is in flight still goes.
    func stop() {
        end(.stopped)
    }

    // MARK: - Writing

    private func send(_ publication: LoopPublication) {
        guard let context else { return }
        let part: MultipartLoopPart
        if let made = publication.multipart {
            part = made
        } else {
            part = MultipartLoopPart(publication.frame, useMemoryFile: useMemoryFile, eventLoop: context.eventLoop)
            publication.multipart = part
        }
        let data = part.data(for: framing)
        inFlight = InFlight(part: part, bytes: data.readableBytes, measured: !part.isPlaceholder && part.sequence != lastSequence)
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { self.written($0) }
        writeTimeout?.writeStarted()
        context.writeAndFlush(NIOAny(data), promise: promise)
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
        if isActive, let next = slot.take(), limit.admit() {
            send(next)
        }
    }

    private func end(_ reason: MultipartEnd) {
        guard isActive else { return }
        isActive = false
        slot.clear()
        if joined, let context {
            hub.detach(self, on: context.eventLoop)
        }
        joined = false
        ended.succeed(reason)
    }
}

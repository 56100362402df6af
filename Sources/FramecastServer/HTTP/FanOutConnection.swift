import CoreMetrics
import NIOCore

/// One HTTP stream client in its event loop's fan-out: a handler first in the connection's
/// pipeline, so its writes go straight to the socket as prebuilt HTTP chunks.
///
/// At most one frame is written at a time and at most one waits: the newest. A write completes
/// when its last byte is in the kernel, and `TCP_NOTSENT_LOWAT` keeps the kernel from taking much
/// more than the client reads (see `TunedChildChannel`), so the next frame sent is always the
/// newest one, not one queued seconds ago. Used only on the connection's event loop.
final class FanOutConnection: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny

    private let framing: StreamFraming
    private var limit: ClientRateLimit
    private let metrics: StreamMetrics
    private let tally: SendTally
    private let ended: EventLoopPromise<FanOutEnd>
    /// Set by the group that feeds it; the group outlives its connections.
    weak var group: LoopFanOut?
    private var context: ChannelHandlerContext?
    /// False once the session ended (the client left, or the server stopped it).
    private(set) var isActive = true
    /// The one write on its way, if any.
    private var inFlight: InFlight?
    private var waiting: (frame: Frame, file: SharedFrameFile?)?
    private var lastSequence: UInt64 = 0

    /// What a write in flight needs when it completes, not the frame: a finished write lets the
    /// frame go.
    private struct InFlight {
        /// Kept open until the write completes.
        let file: SharedFrameFile?
        let bytes: Int
        let sequence: UInt64
        let capturedAt: WallClock.Instant
        /// Counts toward the delivery metric (a new, real frame).
        let measured: Bool
        /// A client that takes too long to accept one frame is gone (see `closeIfStalled`).
        let issuedAt: NIODeadline
    }

    init(framing: StreamFraming, fps: Double?, metrics: StreamMetrics, tally: SendTally, ended: EventLoopPromise<FanOutEnd>) {
        self.framing = framing
        self.limit = ClientRateLimit(fps: fps)
        self.metrics = metrics
        self.tally = tally
        self.ended = ended
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

    /// Sends `frame` now if the connection is idle, else keeps it as the one waiting. Returns
    /// true when it replaced a frame that was waiting (that frame is skipped).
    func offer(_ frame: Frame, file: SharedFrameFile?) -> Bool {
        guard isActive else { return false }
        if inFlight != nil {
            let replaced = waiting != nil
            waiting = (frame, file)
            return replaced
        }
        // `?fps=`: a frame not admitted is not sent to this client at all.
        guard limit.admit() else { return false }
        send(frame, file: file)
        return false
    }

    /// Ends the client's frames from the server's side (shutdown); what is in flight still goes.
    func stop() {
        end(.stopped)
    }

    /// `--client-timeout`: closes the connection if one frame has been on its way for `timeout`
    /// (its client accepts no bytes). The channel's writability cannot tell: the fan-out's
    /// connections have watermarks high enough never to flip (see `StreamFanOut.attach`).
    func closeIfStalled(now: NIODeadline, timeout: TimeAmount) {
        if let inFlight, now - inFlight.issuedAt >= timeout {
            context?.close(promise: nil)
        }
    }

    private func send(_ frame: Frame, file: SharedFrameFile?) {
        guard let context else { return }
        let range = frame.wire.range(for: framing)
        let data: IOData =
            if let file {
                .fileRegion(FileRegion(fileHandle: file.handle, readerIndex: range.lowerBound, endIndex: range.upperBound))
            } else {
                .byteBuffer(frame.wire.chunk(for: framing))
            }
        inFlight = InFlight(
            file: file, bytes: range.count, sequence: frame.sequence, capturedAt: frame.capturedAt,
            measured: !frame.isPlaceholder && frame.sequence != lastSequence, issuedAt: .now())
        let promise = context.eventLoop.makePromise(of: Void.self)
        promise.futureResult.assumeIsolated().whenComplete { self.written($0) }
        context.writeAndFlush(NIOAny(data), promise: promise)
    }

    private func written(_ result: Result<Void, any Error>) {
        guard let write = inFlight else { return }
        inFlight = nil
        guard case .success = result else {
            // The connection failed; it closes and `channelInactive` ends the session.
            waiting = nil
            return
        }
        tally.frames += 1
        tally.bytes += write.bytes
        if write.measured {
            // Repeats of an old frame would only measure how long the scene was still.
            lastSequence = write.sequence
            let microseconds = WallClock.now().microseconds - write.capturedAt.microseconds
            metrics.delivery.recordNanoseconds(max(0, microseconds) * 1000)
        }
        if let next = waiting {
            waiting = nil
            _ = offer(next.frame, file: next.file)
        }
    }

    private func end(_ reason: FanOutEnd) {
        guard isActive else { return }
        isActive = false
        waiting = nil
        group?.remove(self)
        group = nil
        ended.succeed(reason)
    }
}

import NIOCore

/// Closes a connection whose first request head has not fully arrived within the deadline, however
/// slowly it keeps sending (slowloris). Hummingbird's idle timeout covers later requests on a
/// kept-alive connection, but with the WebSocket upgrade in the pipeline it starts only after the
/// first head, so this guards the first one, then removes itself.
final class HeaderDeadlineHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let deadline: TimeAmount
    private var timer: Scheduled<Void>?
    /// The last bytes seen, to find a "\r\n\r\n" split across reads.
    private var tail: [UInt8] = []

    init(deadline: TimeAmount) {
        self.deadline = deadline
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let loopBound = NIOLoopBound(context, eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: deadline) {
            loopBound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let complete = buffer.withUnsafeReadableBytes { bytes -> Bool in
            let window = tail + bytes.suffix(min(bytes.count, 1 << 16))
            if Self.containsEndOfHead(window[...]) || (bytes.count > 1 << 16 && Self.containsEndOfHead(bytes[...])) { return true }
            tail = Array(window.suffix(3))
            return false
        }
        context.fireChannelRead(data)
        if complete {
            timer?.cancel()
            timer = nil
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    private static func containsEndOfHead<C: Collection>(_ bytes: C) -> Bool where C.Element == UInt8, C.Index == Int {
        var run = 0
        for byte in bytes {
            switch (run, byte) {
            case (0, 13), (2, 13): run += 1
            case (1, 10): run = 2
            case (3, 10): return true
            case (_, 13): run = 1
            default: run = 0
            }
        }
        return false
    }
}

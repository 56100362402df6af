import NIOCore
import NIOHTTPTypesHTTP2
import NIOSSL

/// A client's multipart stream as the response body that waits on it sees it.
struct MultipartSession: Sendable {
    /// Succeeds when the client stops receiving frames.
    let ended: EventLoopFuture<MultipartEnd>
    /// Ends it from the server's side; frames already handed to the connection still go out.
    let stop: @Sendable () -> Void
}

/// Puts HTTP connections on a stream's hub as multipart clients.
struct MultipartDelivery: Sendable {
    /// Send each frame from a memory file with `sendfile(2)` (see `MultipartEncoding`).
    let useMemoryFile: Bool

    /// Starts sending `stream`'s frames to `channel`, beginning with the newest one, below its HTTP
    /// encoder: call it once the response head and the stream's opening have been written.
    func attach(channel: any Channel, to stream: StreamSupervisor, framing: StreamFraming, fps: Double?) -> EventLoopFuture<MultipartSession> {
        let eventLoop = channel.eventLoop
        let useMemoryFile = self.useMemoryFile
        return eventLoop.submit {
            let ended = eventLoop.makePromise(of: MultipartEnd.self)
            let pipeline = channel.pipeline.syncOperations
            let (wire, position) = Self.placement(in: pipeline, useMemoryFile: useMemoryFile)
            let connection = MultipartConnection(
                hub: stream.hub, framing: framing, fps: fps, wire: wire, useMemoryFile: useMemoryFile, metrics: stream.metrics, ended: ended)
            do {
                // Its writes skip every handler above it (each part is already framed). Where it
                // passes no client timeout on the way, it reports its writes to it itself.
                if case .first = position { connection.writeTimeout = try? pipeline.handler(type: WriteTimeoutHandler.self) }
                if wire == .http2, let counter = try? pipeline.handler(type: HTTP2WindowCounter.self) {
                    // The opening went out on this window before the response was attached.
                    counter.window.sent(MultipartFraming.opening(framing).readableBytes)
                    connection.sendWindow = counter.window
                }
                try pipeline.addHandler(connection, position: position)
            } catch {
                // The connection closed before its first frame.
                ended.succeed(.clientLeft)
                return MultipartSession(ended: ended.futureResult, stop: {})
            }
            // Added to a channel that closed meanwhile, the connection has ended itself.
            guard connection.isActive else { return MultipartSession(ended: ended.futureResult, stop: {}) }
            // Not fatal: without it writability flips on every frame, which costs time, not frames.
            // (An HTTP/2 stream has no such option: NIO stops the process if it is set there.)
            if wire != .http2 {
                try? channel.syncOptions?.setOption(ChannelOptions.writeBufferWaterMark, value: ConnectionLimits.streamWriteBufferWaterMark)
            }
            connection.join()
            let bound = NIOLoopBound(connection, eventLoop: eventLoop)
            return MultipartSession(ended: ended.futureResult, stop: {
                eventLoop.execute { bound.value.stop() }
            })
        }
    }

    /// How and where a connection's frames go: an HTTP/2 response heads its stream channel (the
    /// codec above turns nothing of it); over TLS, the frames go just above the TLS handler,
    /// which encrypts them (no `sendfile`: the bytes pass through user space anyway); otherwise
    /// next to the socket, from the memory file.
    private static func placement(in pipeline: ChannelPipeline.SynchronousOperations, useMemoryFile: Bool) -> (MultipartWire, ChannelPipeline.SynchronousOperations.Position) {
        if (try? pipeline.handler(type: HTTP2FramePayloadToHTTPServerCodec.self)) != nil {
            return (.http2, .first)
        }
        if let tls = try? pipeline.handler(type: NIOSSLServerHandler.self) {
            return (.http1Copy, .after(tls))
        }
        return (useMemoryFile ? .http1Sendfile : .http1Copy, .first)
    }
}

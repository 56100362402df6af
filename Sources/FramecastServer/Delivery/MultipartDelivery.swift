import NIOCore

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
            let connection = MultipartConnection(
                hub: stream.hub, framing: framing, fps: fps, useMemoryFile: useMemoryFile, metrics: stream.metrics, ended: ended)
            let pipeline = channel.pipeline.syncOperations
            do {
                // First, next to the socket: its writes skip every handler (each chunk is already
                // framed). It reports them to the client timeout itself.
                connection.writeTimeout = try? pipeline.handler(type: WriteTimeoutHandler.self)
                try pipeline.addHandler(connection, position: .first)
            } catch {
                // The connection closed before its first frame.
                ended.succeed(.clientLeft)
                return MultipartSession(ended: ended.futureResult, stop: {})
            }
            // Added to a channel that closed meanwhile, the connection has ended itself.
            guard connection.isActive else { return MultipartSession(ended: ended.futureResult, stop: {}) }
            // Not fatal: without it writability flips on every frame, which costs time, not frames.
            try? channel.syncOptions?.setOption(ChannelOptions.writeBufferWaterMark, value: ConnectionLimits.streamWriteBufferWaterMark)
            connection.join()
            let bound = NIOLoopBound(connection, eventLoop: eventLoop)
            return MultipartSession(ended: ended.futureResult, stop: {
                eventLoop.execute { bound.value.stop() }
            })
        }
    }
}

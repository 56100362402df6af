import CoreMetrics
import Glibc
import NIOCore
import Synchronization

/// How a client's place in the fan-out ended.
enum FanOutEnd: Sendable {
    /// The connection closed.
    case clientLeft
    /// The server ended it (shutdown): the connection is open and may be closed politely.
    case stopped
}

/// A client's place in the fan-out, as the response body that waits on it sees it.
struct FanOutSession: Sendable {
    /// Succeeds when the client stops receiving frames.
    let ended: EventLoopFuture<FanOutEnd>
    /// Ends it from the server's side; frames already handed to the connection still go out.
    let stop: @Sendable () -> Void
}

/// One stream's HTTP stream clients, grouped by event loop, fed straight from the frame hub.
///
/// Publishing a frame costs one task per event loop (not per client): on its loop, each group
/// writes the frame's prebuilt chunk to every connection that is not still busy with an earlier
/// one, with one write per client below the HTTP encoder. A busy connection keeps only the newest
/// frame waiting and takes it when its write completes, so a slow client skips frames without
/// holding anyone else back. No per-client task, stream, copy or formatting per frame.
final class StreamFanOut: FrameSink {
    private let hub: FrameHub
    private let metrics: StreamMetrics
    private let clientTimeout: TimeAmount

    /// The write-buffer watermarks of a fan-out connection. NIO's own bound is not needed (a
    /// connection has at most one frame queued), and a frame larger than the usual high mark
    /// would flip the channel's writability twice per write, an event that walks every handler
    /// of the pipeline: measured at 3% of the server's CPU with 400 clients.
    private static var fanOutWaterMark: ChannelOptions.Types.WriteBufferWaterMark {
        .init(low: 32 << 20, high: 64 << 20)
    }

    private struct Group: Sendable {
        let eventLoop: any EventLoop
        let fanOut: NIOLoopBound<LoopFanOut>
    }

    private struct State {
        var groups: [Group] = []
        var finished = false
    }

    private let state = Mutex(State())

    /// `clientTimeout`: how long one frame may take to be accepted before its client is dropped.
    init(hub: FrameHub, metrics: StreamMetrics, clientTimeout: TimeAmount) {
        self.hub = hub
        self.metrics = metrics
        self.clientTimeout = clientTimeout
        hub.attach(self)
    }

    func receive(_ frame: Frame) {
        let groups = state.withLock { $0.groups }
        for group in groups {
            group.eventLoop.execute { group.fanOut.value.deliver(frame) }
        }
    }

    func hubFinished() {
        let groups = state.withLock { state in
            state.finished = true
            return state.groups
        }
        for group in groups {
            group.eventLoop.execute { group.fanOut.value.finish() }
        }
    }

    /// Starts sending this stream's frames to `channel`, beginning with the newest one, below its
    /// HTTP encoder: call it once the response head and the stream's opening have been written.
    func attach(channel: any Channel, framing: StreamFraming, fps: Double?) -> EventLoopFuture<FanOutSession> {
        let eventLoop = channel.eventLoop
        let hub = self.hub
        let metrics = self.metrics
        let clientTimeout = self.clientTimeout
        return eventLoop.submit {
            // On the loop: a loop's group is created there (its state belongs to the loop).
            let (group, finished) = self.state.withLock { state -> (Group, Bool) in
                if let existing = state.groups.first(where: { $0.eventLoop === eventLoop }) {
                    return (existing, state.finished)
                }
                let created = Group(eventLoop: eventLoop, fanOut: NIOLoopBound(LoopFanOut(metrics: metrics, clientTimeout: clientTimeout, eventLoop: eventLoop), eventLoop: eventLoop))
                state.groups.append(created)
                return (created, state.finished)
            }
            let ended = eventLoop.makePromise(of: FanOutEnd.self)
            guard !finished else {
                ended.succeed(.stopped)
                return FanOutSession(ended: ended.futureResult, stop: {})
            }
            let fanOut = group.fanOut.value
            let connection = FanOutConnection(framing: framing, fps: fps, metrics: metrics, tally: fanOut.tally, ended: ended)
            // First in the pipeline, next to the socket: its writes skip the HTTP encoder (each
            // chunk is already framed) and every other handler.
            do {
                try channel.pipeline.syncOperations.addHandler(connection, position: .first)
            } catch {
                // The connection closed before its first frame.
                ended.succeed(.clientLeft)
                return FanOutSession(ended: ended.futureResult, stop: {})
            }
            // Added to a channel that closed meanwhile, the connection has ended itself.
            guard connection.isActive else { return FanOutSession(ended: ended.futureResult, stop: {}) }
            // Not fatal: without it writability flips on every frame, which costs time, not frames.
            try? channel.syncOptions?.setOption(ChannelOptions.writeBufferWaterMark, value: Self.fanOutWaterMark)
            fanOut.add(connection, newest: hub.latest)
            let bound = NIOLoopBound(connection, eventLoop: eventLoop)
            return FanOutSession(ended: ended.futureResult, stop: {
                eventLoop.execute { bound.value.stop() }
            })
        }
    }
}

/// The clients of one stream on one event loop. Used only on that loop.
final class LoopFanOut {
    private let metrics: StreamMetrics
    private let clientTimeout: TimeAmount
    private let eventLoop: any EventLoop
    private var connections: [FanOutConnection] = []
    private var finished = false
    /// The newest frame's memory file, opened for this loop.
    private var newestFile: (wire: WireParts, file: SharedFrameFile?)?
    /// One timer per loop, not per connection, finds connections that stopped accepting bytes.
    private var stallCheck: RepeatedTask?
    /// What this loop's connections sent since it was last added to the stream's counters.
    let tally = SendTally()

    init(metrics: StreamMetrics, clientTimeout: TimeAmount, eventLoop: any EventLoop) {
        self.metrics = metrics
        self.clientTimeout = clientTimeout
        self.eventLoop = eventLoop
    }

    func add(_ connection: FanOutConnection, newest: Frame?) {
        guard !finished else {
            connection.stop()
            return
        }
        connection.group = self
        connections.append(connection)
        startStallCheck()
        if let newest { _ = connection.offer(newest, file: file(for: newest.wire)) }
    }

    func remove(_ connection: FanOutConnection) {
        flushTally()
        if let index = connections.firstIndex(where: { $0 === connection }) {
            connections.swapAt(index, connections.count - 1)
            connections.removeLast()
        }
        if connections.isEmpty { newestFile = nil }
    }

    func deliver(_ frame: Frame) {
        flushTally()
        guard !finished, !connections.isEmpty else { return }
        let file = file(for: frame.wire)
        var skipped = 0
        // A copy of the list: a connection may leave during its write (a failed write).
        for connection in connections where connection.offer(frame, file: file) {
            skipped += 1
        }
        if skipped > 0 { metrics.framesSkipped.increment(by: skipped) }
    }

    /// Adds the tally to the stream's counters: once per frame and loop, not once per write
    /// (two atomic counters per write, shared by the loops, add up at hundreds of clients).
    private func flushTally() {
        guard tally.frames > 0 else { return }
        metrics.framesSent.increment(by: tally.frames)
        metrics.bytesSent.increment(by: tally.bytes)
        tally.frames = 0
        tally.bytes = 0
    }

    /// A few checks per timeout: a stalled client is closed between 1 and 1.25 timeouts in.
    private func startStallCheck() {
        guard stallCheck == nil else { return }
        let period = TimeAmount.nanoseconds(max(clientTimeout.nanoseconds / 4, 1_000_000))
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let timeout = clientTimeout
        stallCheck = eventLoop.scheduleRepeatedTask(initialDelay: period, delay: period) { _ in
            let now = NIODeadline.now()
            for connection in bound.value.connections { connection.closeIfStalled(now: now, timeout: timeout) }
        }
    }

    func finish() {
        flushTally()
        stallCheck?.cancel()
        stallCheck = nil
        finished = true
        for connection in connections { connection.stop() }
        connections.removeAll()
        newestFile = nil
    }

    /// This loop's handle on a frame's memory file, opened once per frame and loop. Each loop has
    /// its own descriptor (a dup): NIO lets one thread at a time use a file handle, and the two
    /// loops send the same frame at the same moment.
    private func file(for wire: WireParts) -> SharedFrameFile? {
        if let newestFile, newestFile.wire === wire { return newestFile.file }
        var file: SharedFrameFile?
        if let memoryFile = wire.memoryFile {
            let descriptor = dup(memoryFile)
            if descriptor >= 0 { file = SharedFrameFile(descriptor: descriptor) }
        }
        newestFile = (wire, file)
        return file
    }
}

/// Frames and bytes sent by one event loop's connections of a stream, not yet counted.
final class SendTally {
    var frames = 0
    var bytes = 0
}

/// A frame's memory file as one event loop's connections send it. Closed when the last write
/// that uses it has completed (each in-flight write holds a reference).
final class SharedFrameFile {
    let handle: NIOFileHandle

    init(descriptor: CInt) {
        handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor)
    }

    deinit {
        try? handle.close()
    }
}

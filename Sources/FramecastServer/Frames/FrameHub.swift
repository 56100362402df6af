import Synchronization

/// Receives every frame a hub publishes, on the publishing thread: the HTTP stream fan-out,
/// which hands the frame to its event loops and returns at once.
public protocol FrameSink: AnyObject, Sendable {
    /// Called outside the hub's lock, on GStreamer's streaming thread or the stream's queue: must
    /// not block.
    func receive(_ frame: Frame)
    /// The hub finished (shutdown): end every client.
    func hubFinished()
}

/// Hands each published frame to every subscriber without waiting for any of them.
///
/// Two kinds of subscriber: sinks (the HTTP stream fan-out, one per stream, which writes the
/// frame to its connections from their event loops), and `AsyncStream`s that buffer only the
/// newest frame (WebSocket sessions): a consumer still busy with the previous frame finds just the
/// latest one waiting when it comes back, so a slow client skips frames, never slows the others,
/// and never holds more than one frame in waiting.
/// `publish` is synchronous because its caller is GStreamer's streaming thread.
public final class FrameHub: Sendable {
    private struct State {
        var latest: Frame?
        var sinks: [any FrameSink] = []
        var subscribers: [UInt64: AsyncStream<Frame>.Continuation] = [:]
        var nextSubscriberID: UInt64 = 0
        var finished = false
    }

    private let state = Mutex(State())

    public init() {}

    /// The newest frame, if any was published since the hub was last cleared.
    public var latest: Frame? { state.withLock { $0.latest } }

    public var subscriberCount: Int { state.withLock { $0.subscribers.count } }

    /// Makes `frame` the newest and wakes every subscriber with it. Returns how many subscribers
    /// had not taken the previous frame yet (it was replaced: they skip it).
    @discardableResult
    public func publish(_ frame: Frame) -> Int {
        let (targets, sinks) = state.withLock { state -> ([AsyncStream<Frame>.Continuation], [any FrameSink]) in
            guard !state.finished else { return ([], []) }
            state.latest = frame
            return (Array(state.subscribers.values), state.sinks)
        }
        for sink in sinks { sink.receive(frame) }
        // Yield outside the lock: a yield may resume a waiting task.
        var skipped = 0
        for continuation in targets {
            if case .dropped = continuation.yield(frame) { skipped += 1 }
        }
        return skipped
    }

    /// Sends the newest frame again to every subscriber (still scenes must keep painting and
    /// connections through proxies must keep moving).
    public func repeatLatest() {
        let (frame, targets, sinks) = state.withLock { state in
            (state.latest, state.finished ? [] : Array(state.subscribers.values), state.finished ? [] : state.sinks)
        }
        guard let frame else { return }
        for sink in sinks { sink.receive(frame) }
        for continuation in targets { continuation.yield(frame) }
    }

    /// Forgets the newest frame (the pipeline stopped: it would be stale for the next client).
    public func clearLatest() {
        state.withLock { $0.latest = nil }
    }

    /// Adds a sink for every frame from now on. A sink added after `finish` is finished at once.
    public func attach(_ sink: any FrameSink) {
        let accepted = state.withLock { state -> Bool in
            guard !state.finished else { return false }
            state.sinks.append(sink)
            return true
        }
        if !accepted { sink.hubFinished() }
    }

    /// A subscription that its owner can also end from outside the consuming task (at shutdown).
    public struct Subscription: Sendable {
        public let frames: AsyncStream<Frame>
        fileprivate let continuation: AsyncStream<Frame>.Continuation

        /// Ends the frames: the consumer's loop finishes after the frame it holds.
        public func end() { continuation.finish() }
    }

    /// Like `subscribe`, with a handle to end it.
    public func open(includingLatest: Bool = true) -> Subscription {
        let (stream, continuation) = subscribeReturningContinuation(includingLatest: includingLatest)
        return Subscription(frames: stream, continuation: continuation)
    }

    /// A stream of frames from now on, starting with the newest one when `includingLatest`.
    /// Ends when the consuming task is cancelled or the hub finishes.
    public func subscribe(includingLatest: Bool = true) -> AsyncStream<Frame> {
        subscribeReturningContinuation(includingLatest: includingLatest).0
    }

    private func subscribeReturningContinuation(includingLatest: Bool) -> (AsyncStream<Frame>, AsyncStream<Frame>.Continuation) {
        let (stream, continuation) = AsyncStream<Frame>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let (id, latest, accepted) = state.withLock { state -> (UInt64, Frame?, Bool) in
            guard !state.finished else { return (0, nil, false) }
            let id = state.nextSubscriberID
            state.nextSubscriberID += 1
            state.subscribers[id] = continuation
            return (id, state.latest, true)
        }
        guard accepted else {
            continuation.finish()
            return (stream, continuation)
        }
        continuation.onTermination = { [weak self] _ in
            self?.state.withLock { _ = $0.subscribers.removeValue(forKey: id) }
        }
        if includingLatest, let latest { continuation.yield(latest) }
        return (stream, continuation)
    }

    /// Ends every subscription (shutdown). Later subscriptions end at once.
    public func finish() {
        let (targets, sinks) = state.withLock { state -> ([AsyncStream<Frame>.Continuation], [any FrameSink]) in
            state.finished = true
            let all = Array(state.subscribers.values)
            state.subscribers.removeAll()
            defer { state.sinks.removeAll() }
            return (all, state.sinks)
        }
        // finish() runs onTermination synchronously, which takes the lock: never under it.
        for continuation in targets { continuation.finish() }
        for sink in sinks { sink.hubFinished() }
    }
}

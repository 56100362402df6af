import NIOCore
import Synchronization

/// One stream's frames, handed to every consumer on its own event loop.
///
/// Publishing costs one task per event loop that has consumers, not one per client: on its loop,
/// each `LoopFanOut` offers the frame to that loop's consumers, each of which sends it or keeps it
/// as its one frame waiting. The order of publications is decided here, under the lock, and every
/// consumer's slot refuses a publication older than the one it has: a repeat of the newest frame
/// decided just before a new frame arrived can never land after it.
///
/// The hub also knows which pipeline run is current: frames of an older run are refused, and the
/// newest frame is forgotten when its run ends, so nobody is ever sent a frame from before a failure.
/// A placeholder never replaces a real frame of the current run.
/// `publish` is synchronous because its caller is GStreamer's streaming thread; it never blocks.
public final class FrameHub: Sendable {
    private struct Group {
        let eventLoop: any EventLoop
        let fanOut: NIOLoopBound<LoopFanOut>
    }

    private struct State {
        var latest: Publication?
        var order: UInt64 = 0
        /// The run whose frames are accepted, if one is running.
        var run: UInt64?
        /// The newest run begun: an older one never becomes current again.
        var newestRun: UInt64 = 0
        var groups: [Group] = []
        var finished = false
    }

    private let metrics: StreamMetrics
    private let state = Mutex(State())

    init(metrics: StreamMetrics) {
        self.metrics = metrics
    }

    /// The newest frame, real or placeholder, if any was published since the last run ended.
    public var latest: Frame? { state.withLock { $0.latest?.frame } }

    /// Frames of `run` are accepted from now on, and the newest frame (an older run's, or a
    /// placeholder) is forgotten: it may reach here before the older run's `endRun`, when the two
    /// were decided on different threads.
    func beginRun(_ run: UInt64) {
        let forgotten = state.withLock { state -> (UInt64, [Group])? in
            guard run > state.newestRun else { return nil }
            state.newestRun = run
            state.run = run
            state.latest = nil
            return (state.order, state.groups)
        }
        // The loops keep the newest publication for consumers that join: they forget it too.
        guard let (order, groups) = forgotten else { return }
        for group in groups {
            group.eventLoop.execute { group.fanOut.value.forget(through: order) }
        }
    }

    /// `run` ended: its frames are refused and the newest one is forgotten (it would be stale for
    /// whoever comes next). Consumers waiting for the run's frames are told.
    func endRun(_ run: UInt64) {
        let ended = state.withLock { state -> (UInt64, [Group])? in
            guard state.run == run else { return nil }
            state.run = nil
            state.latest = nil
            return (state.order, state.groups)
        }
        guard let (order, groups) = ended else { return }
        for group in groups {
            group.eventLoop.execute { group.fanOut.value.runEnded(run, forgettingThrough: order) }
        }
    }

    /// Publishes a frame of `run`; refused when that run is no longer current.
    @discardableResult
    func publish(_ frame: Frame, run: UInt64) -> Bool {
        dispatch(state.withLock { state -> (Publication, [Group])? in
            guard !state.finished, state.run == run else { return nil }
            return Self.enqueue(frame, in: &state)
        })
    }

    /// Publishes a placeholder, unless a real frame of the current run is already the newest (the
    /// picture was rendered while the camera came back: it is stale).
    @discardableResult
    func publishPlaceholder(_ frame: Frame) -> Bool {
        dispatch(state.withLock { state -> (Publication, [Group])? in
            guard !state.finished else { return nil }
            if let latest = state.latest, !latest.frame.isPlaceholder { return nil }
            return Self.enqueue(frame, in: &state)
        })
    }

    /// Sends the newest frame again, as a new publication.
    func repeatLatest() {
        dispatch(state.withLock { state -> (Publication, [Group])? in
            guard !state.finished, let latest = state.latest else { return nil }
            return Self.enqueue(latest.frame, in: &state)
        })
    }

    private static func enqueue(_ frame: Frame, in state: inout State) -> (Publication, [Group]) {
        state.order += 1
        let publication = Publication(frame: frame, order: state.order)
        state.latest = publication
        return (publication, state.groups)
    }

    /// Hands a publication to every loop, outside the lock.
    private func dispatch(_ work: (Publication, [Group])?) -> Bool {
        guard let (publication, groups) = work else { return false }
        for group in groups {
            group.eventLoop.execute { group.fanOut.value.deliver(publication) }
        }
        return true
    }

    /// What a consumer gets when it joins: its loop's tally of frames and bytes sent, the newest
    /// publication, which it may take as its first frame, and the run current then.
    struct Joined {
        let tally: SendTally
        let latest: LoopPublication?
        let run: UInt64?
    }

    /// Adds `consumer` to its loop's fan-out. Call on `eventLoop`. Nil when the hub has finished
    /// (the consumer is told at once).
    func attach(_ consumer: any FrameConsumer, on eventLoop: any EventLoop) -> Joined? {
        eventLoop.preconditionInEventLoop()
        let found = state.withLock { state -> (LoopFanOut, Publication?, UInt64?)? in
            guard !state.finished else { return nil }
            let group: Group
            if let existing = state.groups.first(where: { $0.eventLoop === eventLoop }) {
                group = existing
            } else {
                group = Group(eventLoop: eventLoop, fanOut: NIOLoopBound(LoopFanOut(metrics: metrics), eventLoop: eventLoop))
                state.groups.append(group)
            }
            return (group.fanOut.value, state.latest, state.run)
        }
        guard let (fanOut, latest, run) = found else {
            consumer.hubFinished()
            return nil
        }
        fanOut.add(consumer)
        return Joined(tally: fanOut.tally, latest: latest.map(fanOut.local), run: run)
    }

    /// Removes `consumer` from its loop's fan-out. Call on `eventLoop`.
    func detach(_ consumer: any FrameConsumer, on eventLoop: any EventLoop) {
        eventLoop.preconditionInEventLoop()
        let fanOut = state.withLock { state in state.groups.first(where: { $0.eventLoop === eventLoop })?.fanOut.value }
        fanOut?.remove(consumer)
    }

    /// Ends every consumer (shutdown). Later consumers are told at once.
    func finish() {
        let groups = state.withLock { state -> [Group] in
            state.finished = true
            state.latest = nil
            return state.groups
        }
        for group in groups {
            group.eventLoop.execute { group.fanOut.value.finish() }
        }
    }
}

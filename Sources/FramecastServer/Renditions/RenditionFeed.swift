import Dispatch
import Logging
import MediaPipeline
import NIOCore
import Synchronization

/// One run of a rendition: a consumer of the source stream's frames (holding a client lease on
/// it, so the source runs while the rendition has viewers) that hands each new frame to the
/// rendition's encoder on a queue of its own. When the source's pipeline offers its raw pictures
/// (`StreamSupervisor.offersRawPictures`), those are shrunk instead and no JPEG is decoded; the
/// source's frames then only tell the feed that the source is down (placeholders, end of run).
///
/// The queue takes one frame at a time; a frame that arrives while it is busy waits in a one-frame
/// slot and replaces the one waiting there: an encoder that falls behind skips source frames (its
/// viewers get a lower rate), it never queues them, never holds the event loop and never slows the
/// source or any other rendition.
final class RenditionFeed: FrameProducer {
    private let source: StreamSupervisor
    private let encoder: RenditionEncoder
    private let statistics: RenditionStatistics
    private let callbacks: ProducerCallbacks
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let queue: DispatchQueue
    private let input: NIOLoopBoundBox<RenditionInput?>

    /// What the encoder is fed one of.
    private enum Input {
        case jpeg(Frame)
        case raw(RawPicture, capturedAt: WallClock.Instant)
    }

    private struct State {
        var lease: ClientLease?
        var rawSubscription: RawPictureTap.Subscription?
        /// The newest source frame not yet encoded.
        var waiting: Input?
        var encoding = false
        var stopped = false
        /// The sequence of the newest source frame taken: repeats of it are not encoded again.
        var lastSequence: UInt64 = 0
        /// When the last raw picture came (uptime nanoseconds): while they come, the source's
        /// JPEGs are not decoded.
        var lastRawAt: UInt64?
        var failuresInARow = 0
    }

    private let state = Mutex(State())

    init(
        source: StreamSupervisor, geometry: RenditionGeometry, statistics: RenditionStatistics, callbacks: ProducerCallbacks,
        eventLoop: any EventLoop, logger: Logger, encoderDelayForTesting: Int = 0
    ) throws(PipelineError) {
        self.source = source
        self.statistics = statistics
        self.callbacks = callbacks
        self.eventLoop = eventLoop
        self.logger = logger
        self.queue = DispatchQueue(label: "framecast.rendition.\(source.name)@\(geometry)")
        self.input = .makeEmptyBox(valueType: RenditionInput.self, eventLoop: eventLoop)
        self.encoder = try RenditionEncoder(
            width: geometry.width, height: geometry.height, quality: geometry.quality, crop: geometry.crop,
            delayForTesting: encoderDelayForTesting, onSample: callbacks.onSample, onBusEvent: callbacks.onBusEvent)
    }

    func play() throws(PipelineError) {
        try encoder.play()
        let lease = source.acquireClient()
        let subscription = source.offersRawPictures
            ? source.rawPictures.subscribe { [weak self] picture, capturedAt in self?.received(.raw(picture, capturedAt: capturedAt)) }
            : nil
        let started = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            state.lease = lease
            state.rawSubscription = subscription
            return true
        }
        guard started else {
            subscription?.cancel()
            lease.release()
            return
        }
        let input = self.input
        let source = self.source
        eventLoop.execute {
            let consumer = RenditionInput(feed: self, hub: source.hub, eventLoop: self.eventLoop)
            input.value = consumer
            consumer.join()
        }
    }

    func stop() {
        let (lease, subscription) = state.withLock { state -> (ClientLease?, RawPictureTap.Subscription?) in
            state.stopped = true
            state.waiting = nil
            defer {
                state.lease = nil
                state.rawSubscription = nil
            }
            return (state.lease, state.rawSubscription)
        }
        subscription?.cancel()
        let input = self.input
        eventLoop.execute {
            input.value?.leave()
            input.value = nil
        }
        lease?.release()
        encoder.stop()
    }

    // MARK: - From the input, on its event loop

    /// A new source frame (from the hub, on the input's loop) or raw picture (from the tap, on the
    /// source's streaming thread): encoded now if the queue is free, else it waits (replacing any
    /// frame already waiting, which the rendition then skips).
    fileprivate func received(_ frame: Frame) {
        received(.jpeg(frame))
    }

    private func received(_ input: Input) {
        // Nobody watches (the last viewer left, the idle timeout has not passed): nothing is
        // encoded, and the rendition does not count as stalled.
        guard callbacks.isWatched() else {
            callbacks.onAlive()
            return
        }
        let now = DispatchTime.now().uptimeNanoseconds
        let start = state.withLock { state -> Bool in
            guard !state.stopped else { return false }
            switch input {
            case .jpeg(let frame):
                // A repeat of the newest frame is not encoded again.
                guard frame.sequence > state.lastSequence else { return false }
                state.lastSequence = frame.sequence
                // Raw pictures are coming (a source that tees them, in I420): they are used instead.
                if let lastRaw = state.lastRawAt, now &- lastRaw < 1_000_000_000 { return false }
            case .raw:
                state.lastRawAt = now
            }
            if state.waiting != nil { statistics.skipped() }
            state.waiting = input
            guard !state.encoding else { return false }
            state.encoding = true
            return true
        }
        if start { queue.async { self.drain() } }
    }

    /// The source shows a placeholder: the source's pipeline is down, the rendition is not stalled.
    fileprivate func sourceShowsPlaceholder() {
        callbacks.onAlive()
    }

    /// The source's run ended (its camera failed or stopped): the rendition's run ends too, so
    /// its viewers see NO SIGNAL at its size at once, not its last picture repeated.
    fileprivate func sourceRunEnded() {
        let stopped = state.withLock { $0.stopped }
        guard !stopped else { return }
        let error = source.status().lastError?.message ?? "it stopped"
        callbacks.onBusEvent(.error(PipelineFault(element: nil, message: "the source stream '\(source.name)' is down: \(error)", debug: nil)))
    }

    // MARK: - On the queue

    private func drain() {
        while let input = state.withLock({ state -> Input? in
            guard let input = state.waiting, !state.stopped else {
                state.encoding = false
                state.waiting = nil
                return nil
            }
            state.waiting = nil
            return input
        }) {
            let failure: PipelineError?
            switch input {
            case .jpeg(let frame):
                failure = encode(frame)
                statistics.used(raw: false)
            case .raw(let picture, let capturedAt):
                failure = encode(picture, capturedAt: capturedAt)
                statistics.used(raw: true)
            }
            settle(failure)
        }
    }

    private func encode(_ picture: RawPicture, capturedAt: WallClock.Instant) -> PipelineError? {
        do throws(PipelineError) {
            try encoder.encode(picture, timestamp: UInt64(max(0, capturedAt.microseconds)) * 1000)
            return nil
        } catch {
            return error
        }
    }

    private func encode(_ frame: Frame) -> PipelineError? {
        var size = (width: frame.width, height: frame.height)
        return frame.jpeg.withUnsafeReadableBytes { bytes -> PipelineError? in
            if size.width <= 0 || size.height <= 0, let header = JPEGHeader.size(of: bytes) { size = header }
            do throws(PipelineError) {
                // Capture times in nanoseconds: they increase with the sequence.
                let stamp = UInt64(max(0, frame.capturedAt.microseconds)) * 1000
                try encoder.encode(bytes, sourceWidth: size.width, sourceHeight: size.height, timestamp: stamp)
                return nil
            } catch {
                return error
            }
        }
    }

    /// Counts a failure; a corrupt frame now and then is skipped, a source that never decodes
    /// fails the run.
    private func settle(_ result: PipelineError?) {
        statistics.recordEncodeTime(encoder.encodeMilliseconds)
        guard let result else {
            state.withLock { $0.failuresInARow = 0 }
            return
        }
        let failures = state.withLock { state -> Int in
            state.failuresInARow += 1
            return state.failuresInARow
        }
        logger.debug("rendition could not use a source frame", metadata: ["error": "\(result)"])
        if failures == 10 {
            callbacks.onBusEvent(.error(PipelineFault(element: "rendition", message: result.description, debug: nil)))
        }
    }
}

/// A rendition's view of its source stream: a consumer of the source's hub on one event loop.
/// Used only on that loop.
private final class RenditionInput: FrameConsumer {
    private weak var feed: RenditionFeed?
    private let hub: FrameHub
    private let eventLoop: any EventLoop
    private var joined = false
    /// The source's run when it joined: the late end of an older run is not this one's end.
    private var run: UInt64?

    init(feed: RenditionFeed, hub: FrameHub, eventLoop: any EventLoop) {
        self.feed = feed
        self.hub = hub
        self.eventLoop = eventLoop
    }

    func join() {
        guard let joined = hub.attach(self, on: eventLoop) else { return }
        self.joined = true
        run = joined.run
        if let latest = joined.latest { _ = offer(latest) }
    }

    func leave() {
        if joined { hub.detach(self, on: eventLoop) }
        joined = false
        feed = nil
    }

    func offer(_ publication: LoopPublication) -> Bool {
        let frame = publication.frame
        if frame.isPlaceholder {
            feed?.sourceShowsPlaceholder()
        } else {
            feed?.received(frame)
        }
        // The feed keeps its own one-frame slot (and counts what it skips).
        return false
    }

    func runEnded(_ ended: UInt64) {
        guard run.map({ ended >= $0 }) ?? true else { return }
        feed?.sourceRunEnded()
    }

    func hubFinished() {
        joined = false
        feed?.sourceRunEnded()
    }
}

/// What status shows of a rendition's encoder, kept across its runs.
final class RenditionStatistics: Sendable {
    private struct State {
        var encodeMilliseconds: Double?
        var skipped: UInt64 = 0
        var raw: Bool?
    }

    private let state = Mutex(State())

    func skipped() { state.withLock { $0.skipped += 1 } }

    func used(raw: Bool) { state.withLock { $0.raw = raw } }

    /// `raw` or `jpeg`: what the last picture was made from; nil before the first.
    var input: String? { state.withLock { $0.raw.map { $0 ? "raw" : "jpeg" } } }

    func recordEncodeTime(_ milliseconds: Double?) {
        guard let milliseconds else { return }
        state.withLock { $0.encodeMilliseconds = milliseconds }
    }

    var encodeMilliseconds: Double? { state.withLock { $0.encodeMilliseconds } }
    var framesSkipped: UInt64 { state.withLock { $0.skipped } }
}

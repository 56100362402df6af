import CoreMetrics
import Dispatch
public import Logging
public import MediaPipeline
public import ServiceLifecycle
import Synchronization

/// Runs one stream's pipeline for as long as somebody watches it, by carrying out what its
/// `StreamLifecycle` decides.
///
/// Every event (a client arriving or leaving, a frame, a bus error, a timer) is applied to the
/// lifecycle under one lock, which returns actions; the actions are carried out after the lock is
/// released. GStreamer state changes block (a camera takes a while to open and close), so they run
/// on one serial queue per stream; GStreamer's streaming thread only publishes frames into `hub`;
/// placeholder pictures are rendered off that queue (see `PlaceholderPictures`).
public final class StreamSupervisor: Service, Sendable {
    public let name: String
    public let settings: StreamSettings
    public let metrics: StreamMetrics
    public let hub: FrameHub

    private let logger: Logger
    /// Where GStreamer state changes run.
    private let queue: DispatchQueue
    private let placeholders: PlaceholderPictures
    private let createdAt = DispatchTime.now().uptimeNanoseconds
    private let core: Mutex<Core>
    private let framesCarryCaptureTime: Bool
    /// The raw pictures of the current run, for renditions.
    let rawPictures = RawPictureTap()
    private let pictureSize: (width: Int, height: Int)
    private let onIdle: (@Sendable () -> Void)?

    /// What each run is made from. Replaced whole by a reload (`replaceSource`).
    struct Source: Sendable {
        /// The gst-launch description, or what a rendition is made of.
        var description: String
        /// The description with the passwords of its URLs masked: what status and logs show.
        var shown: String
        /// Its pipeline has an appsink named `raw`: renditions subscribe to `rawPictures`.
        var offersRawPictures: Bool
        var makeProducer: ProducerFactory
        /// Each sample's presentation timestamp is its capture time (a relay's origin stamped it).
        var carriesCaptureTime = false
        /// A relay's upstream, for status.
        var relay: RelayMonitor?
    }

    private struct Core {
        var source: Source
        var lifecycle: StreamLifecycle
        /// The running pipeline and its run (set and taken on `queue`).
        var pipeline: (run: UInt64, pipeline: any FrameProducer)?
        var rate = InputRateMeter()
        var lastFrame: (bytes: Int, width: Int, height: Int, at: WallClock.Instant)?
    }

    /// Validates the description (throws a `PipelineError` a user can act on); runs nothing.
    public convenience init(
        name: String, pipeline: String, settings: StreamSettings, metrics: StreamMetrics, logger: Logger
    ) throws(PipelineError) {
        var settings = settings
        if RelaySource.isRelay(pipeline) {
            // An origin back after a restart should be relayed again within about a second, not
            // after a back-off grown to 30 s while it was away.
            settings.minimumRestartDelay = min(settings.minimumRestartDelay, 0.5)
            settings.maximumRestartDelay = min(settings.maximumRestartDelay, 1)
        }
        self.init(
            name: name, source: try Self.source(pipeline: pipeline), settings: settings, metrics: metrics,
            logger: logger, framesCarryCaptureTime: false, pictureSize: (640, 480), onIdle: nil)
    }

    /// A gst-launch description as a source, validated (throws a `PipelineError` a user can act on);
    /// `relay:URL` is a relay of another MJPEG server.
    static func source(pipeline: String) throws(PipelineError) -> Source {
        if RelaySource.isRelay(pipeline) {
            let relay = try RelaySource(description: pipeline)
            let monitor = RelayMonitor(url: relay.shown)
            return Source(
                description: pipeline, shown: RelaySource.prefix + relay.shown, offersRawPictures: false,
                makeProducer: { callbacks in RelayProducer(source: relay, callbacks: callbacks, monitor: monitor) },
                carriesCaptureTime: true, relay: monitor)
        }
        try Pipeline.validate(pipeline)
        let offersRaw = try Pipeline.offersRawPictures(pipeline)
        return Source(description: pipeline, shown: CredentialMask.mask(pipeline), offersRawPictures: offersRaw) { callbacks throws(PipelineError) in
            try Pipeline(
                description: pipeline, onSample: callbacks.onSample, onBusEvent: callbacks.onBusEvent,
                onRawPicture: offersRaw ? callbacks.onRawPicture : nil)
        }
    }

    /// A stream whose runs are made by `makeProducer` (a rendition). `framesCarryCaptureTime`:
    /// each sample's presentation timestamp is its capture time (wall clock, nanoseconds), kept
    /// from the stream it was made from. `pictureSize`: the size of its placeholders until its
    /// first frame says otherwise. `onIdle` runs when the stream stops for lack of clients.
    init(
        name: String, source: Source, settings: StreamSettings, metrics: StreamMetrics,
        logger: Logger, framesCarryCaptureTime: Bool, pictureSize: (width: Int, height: Int),
        onIdle: (@Sendable () -> Void)?
    ) {
        self.pictureSize = pictureSize
        self.name = name
        self.metrics = metrics
        self.settings = settings
        self.hub = FrameHub(metrics: metrics)
        var logger = logger
        logger[metadataKey: "stream"] = .string(name)
        self.logger = logger
        self.queue = DispatchQueue(label: "framecast.stream.\(name)")
        self.placeholders = PlaceholderPictures(stream: name, logger: logger)
        self.core = Mutex(Core(source: source, lifecycle: StreamLifecycle(settings: settings)))
        self.framesCarryCaptureTime = framesCarryCaptureTime
        self.onIdle = onIdle
    }

    /// The gst-launch description its runs are made from.
    public var pipelineDescription: String { core.withLock { $0.source.description } }
    /// The description with the passwords of its URLs masked: what status and logs show.
    public var shownDescription: String { core.withLock { $0.source.shown } }
    /// Its pipeline has an appsink named `raw`: renditions subscribe to `rawPictures`.
    public var offersRawPictures: Bool { core.withLock { $0.source.offersRawPictures } }

    // MARK: - Service

    public func run() async throws {
        begin()
        // Runs until the service group shuts down; everything else happens on events.
        try? await gracefulShutdown()
        await shutdown()
    }

    /// The server started (with `--always-on` the pipeline starts at once).
    public func begin() {
        apply { lifecycle, now in lifecycle.begin(now: now) }
    }

    /// Makes the runs from now on from another pipeline (a reload changed it). A running pipeline
    /// is replaced at once: its viewers stay connected and see NO SIGNAL until the new one's first
    /// frame. Validated first: throws, changing nothing, if it cannot be served.
    public func replacePipeline(_ pipeline: String) throws(PipelineError) {
        let source = try Self.source(pipeline: pipeline)
        logger.info("pipeline replaced", metadata: ["pipeline": .string(source.shown)])
        apply { core, now in
            core.source = source
            return core.lifecycle.pipelineReplaced(now: now)
        }
    }

    /// Stops the pipeline for good and ends every consumer (each stream then sends its closing
    /// boundary). Returns once the pipeline is stopped.
    public func shutdown() async {
        apply { lifecycle, _ in lifecycle.shutdown() }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async { done.resume() }
        }
        logger.debug("stream stopped for shutdown")
    }

    /// Runs `work` on the stream's queue, behind any pipeline start or stop in progress (the
    /// watchdog's probe that the queue answers).
    func onQueue(_ work: @escaping @Sendable () -> Void) {
        queue.async(execute: work)
    }

    // MARK: - Clients

    /// Registers a client (a stream viewer or a snapshot waiting for a frame). The pipeline starts
    /// if it is not running (the state says `starting` by the time this returns); it may stop
    /// once every lease is released and the idle time passed.
    public func acquireClient() -> ClientLease {
        clientsChanged(by: 1)
        return ClientLease { [weak self] in self?.clientsChanged(by: -1) }
    }

    private func clientsChanged(by delta: Int) {
        apply { lifecycle, now in lifecycle.clientsChanged(to: lifecycle.clients + delta, now: now) }
        // Read again, not the count this thread decided: another thread may have decided (and
        // recorded) a later one meanwhile, and the gauge must end at the latest.
        metrics.clients.record(core.withLock { $0.lifecycle.clients })
    }

    /// The newest frame, only while frames are flowing: never a stale frame of a stopped or
    /// failed pipeline, never a placeholder.
    public func liveFrame() -> Frame? {
        guard state == .playing, let latest = hub.latest, !latest.isPlaceholder else { return nil }
        return latest
    }

    public var state: StreamState { core.withLock { $0.lifecycle.publicState } }

    /// Clients holding a lease now.
    public var clientCount: Int { core.withLock { $0.lifecycle.clients } }

    /// The size of the newest frame published, of any run (a rendition's geometry is worked out
    /// from it); nil before the first frame.
    public var lastFrameSize: (width: Int, height: Int)? {
        core.withLock { core in core.lastFrame.map { ($0.width, $0.height) } }
    }

    public func status() -> StreamStatus {
        let now = DispatchTime.now().uptimeNanoseconds
        let wallNow = WallClock.now()
        return core.withLock { core in
            let lifecycle = core.lifecycle
            let fps = lifecycle.publicState == .playing ? core.rate.framesPerSecond(now: now) : 0
            return StreamStatus(
                name: name,
                pipeline: core.source.shown,
                state: lifecycle.publicState,
                fps: (fps * 100).rounded() / 100,
                width: core.lastFrame?.width,
                height: core.lastFrame?.height,
                lastFrameBytes: core.lastFrame?.bytes,
                lastFrameAgeSeconds: core.lastFrame.map { $0.at.seconds(until: wallNow) },
                clients: lifecycle.clients,
                framesPublished: lifecycle.framesPublished,
                restarts: lifecycle.restarts,
                lastError: lifecycle.lastError,
                uptimeSeconds: Double(now - createdAt) / 1e9,
                relay: core.source.relay?.status
            )
        }
    }

    // MARK: - Events and actions

    /// Applies one event to the lifecycle under the lock, then carries its actions out.
    private func apply(_ event: (inout StreamLifecycle, UInt64) -> [StreamLifecycle.Action]) {
        apply { core, now in event(&core.lifecycle, now) }
    }

    private func apply(_ event: (inout Core, UInt64) -> [StreamLifecycle.Action]) {
        let now = DispatchTime.now().uptimeNanoseconds
        perform(core.withLock { core in event(&core, now) })
    }

    private func perform(_ actions: [StreamLifecycle.Action]) {
        for action in actions {
            switch action {
            case .startPipeline(let run):
                hub.beginRun(run)
                queue.async { self.reconcilePipeline() }
            case .tearDown(let run):
                // At once: the run's frames are refused from now on, even while it stops.
                hub.endRun(run)
                queue.async { self.reconcilePipeline() }
            case .schedule(let seconds, let timer):
                queue.asyncAfter(deadline: .now() + max(0, seconds)) {
                    self.apply { lifecycle, now in lifecycle.timerFired(timer, now: now, wallSeconds: WallClock.now().secondsSinceEpoch) }
                }
            case .showPlaceholder(let reason):
                let lastFrame = core.withLock { $0.lastFrame }
                placeholders.show(
                    reason, width: lastFrame?.width ?? pictureSize.width, height: lastFrame?.height ?? pictureSize.height,
                    lastFrameAt: lastFrame?.at, on: hub)
            case .repeatLatest:
                hub.repeatLatest()
            case .entered:
                // The state as it is now, not as this thread decided it: see `clientsChanged`.
                metrics.enter(state)
            case .restartCounted:
                metrics.restarts.increment()
            case .restartScheduled(let seconds):
                logger.info("restarting pipeline", metadata: ["in_seconds": .stringConvertible(seconds)])
            case .waitingForClient:
                logger.info("pipeline stopped after a failure; it starts again with the next client")
                onIdle?()
            case .stoppedIdle:
                logger.info("no clients for \(settings.idleTimeout.formatted()) s: pipeline set to NULL")
                onIdle?()
            case .stalled(let seconds):
                logger.warning("no frame for \(seconds.formatted()) s: restarting the pipeline")
            case .finish:
                hub.finish()
            }
        }
    }

    // MARK: - Pipelines (on `queue` only)

    /// Brings the pipeline in line with the lifecycle's current run: stops one whose run is no
    /// longer current, starts one for a current run that has none. Both actions only enqueue this,
    /// and it reads the lifecycle as it is when it runs: decisions taken on two threads may be
    /// enqueued in either order without a stale pipeline surviving or two running at once. A
    /// pipeline is never released under the lock (its deinit sets it to NULL, which waits for a
    /// streaming thread that may be waiting for the lock).
    private func reconcilePipeline() {
        let (stale, wanted, stopping) = core.withLock { core -> ((any FrameProducer)?, UInt64?, Bool) in
            let current = core.lifecycle.currentRun?.id
            var stale: (any FrameProducer)?
            if let running = core.pipeline, running.run != current {
                stale = running.pipeline
                core.pipeline = nil
            }
            return (stale, core.pipeline == nil ? current : nil, core.lifecycle.state == .stopped)
        }
        if let stale { stop(stale, waiting: stopping ? 1 : 3) }
        if let wanted { start(run: wanted) }
    }

    private func start(run: UInt64) {
        let pipeline: any FrameProducer
        let makeProducer = core.withLock { $0.source.makeProducer }
        do {
            pipeline = try makeProducer(
                ProducerCallbacks(
                    onSample: makeSampleHandler(run: run),
                    onBusEvent: { [weak self] event in
                        guard let self else { return }
                        self.queue.async { self.handle(event, run: run) }
                    },
                    onAlive: { [weak self] in
                        self?.apply { lifecycle, now in
                            lifecycle.alive(run: run, now: now)
                            return []
                        }
                    },
                    onRawPicture: { [weak self] picture in
                        guard let self, !self.rawPictures.isEmpty else { return }
                        let capturedAt = WallClock.now()
                        // Only the current run's pictures, and only once it publishes (no warm-up picture).
                        guard self.core.withLock({ $0.lifecycle.publicState == .playing && $0.lifecycle.currentRun?.id == run }) else { return }
                        self.rawPictures.offer(picture, capturedAt: capturedAt)
                    },
                    isWatched: { [weak self] in (self?.clientCount ?? 0) > 0 }))
        } catch {
            // Validated at start-up, so only a changed environment (a plugin removed) lands here.
            failed(run: run, PipelineFault(element: nil, message: error.description, debug: nil))
            return
        }
        let current = core.withLock { core -> Bool in
            guard core.lifecycle.currentRun?.id == run, core.pipeline == nil else { return false }
            core.pipeline = (run, pipeline)
            return true
        }
        // Not current any more (stopped while it was built): released here, never played.
        guard current else { return }
        logger.info("starting pipeline")
        do {
            try pipeline.play()
        } catch {
            // The element's own error was posted on the bus during play() and is already queued
            // ahead of this: it carries the better message. This one only acts if it did not.
            let fault = PipelineFault(element: nil, message: error.description, debug: nil)
            queue.async { self.failed(run: run, fault) }
        }
    }

    /// Sets a pipeline to NULL, waiting at most `seconds`. An element stuck in a blocking call it
    /// cannot interrupt (a read from a pipe, a hung driver) would otherwise hold this stream's
    /// queue, and with it every later restart and the server's shutdown, forever: such a pipeline
    /// is abandoned to its own thread and reported.
    private func stop(_ pipeline: any FrameProducer, waiting seconds: Double) {
        let stopped = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            pipeline.stop()
            stopped.signal()
        }
        if stopped.wait(timeout: .now() + seconds) == .timedOut {
            logger.error("the pipeline did not stop within \(seconds.formatted()) s (an element is stuck); abandoning it")
        }
    }

    private func handle(_ event: BusEvent, run: UInt64) {
        switch event.masked {
        case .error(let fault):
            logger.error(
                "pipeline error",
                metadata: ["element": .string(fault.element ?? "?"), "message": .string(fault.message), "debug": .string(fault.debug ?? "")])
            failed(run: run, fault)
        case .warning(let fault):
            logger.warning(
                "pipeline warning",
                metadata: ["element": .string(fault.element ?? "?"), "message": .string(fault.message), "debug": .string(fault.debug ?? "")])
        case .endOfStream:
            logger.info("pipeline reached end-of-stream")
            failed(run: run, PipelineFault(element: nil, message: "end of stream: the source finished", debug: nil))
        }
    }

    private func failed(run: UInt64, _ fault: PipelineFault) {
        let fault = fault.masked
        let error = StreamStatus.LastError(element: fault.element, message: fault.message, debug: fault.debug, at: WallClock.now().secondsSinceEpoch)
        apply { lifecycle, now in lifecycle.failed(run: run, error: error, now: now) }
    }

    // MARK: - Frames (on GStreamer's streaming thread)

    private func makeSampleHandler(run: UInt64) -> SampleHandler {
        let carriesCaptureTime = framesCarryCaptureTime || core.withLock { $0.source.carriesCaptureTime }
        return { [weak self] bytes, reported in
            guard let self else { return }
            // A network camera's multipartdemux gives caps without a size: the JPEG says it.
            var format = reported
            if format.width <= 0 || format.height <= 0, let size = JPEGHeader.size(of: bytes) {
                format = SampleFormat(
                    width: size.width, height: size.height, presentationTimestamp: reported.presentationTimestamp, isPlaceholder: reported.isPlaceholder)
            }
            let capturedAt =
                carriesCaptureTime
                ? format.presentationTimestamp.map { WallClock.Instant(microseconds: Int64($0 / 1000)) } ?? WallClock.now()
                : WallClock.now()
            let now = DispatchTime.now().uptimeNanoseconds
            let (verdict, actions) = self.core.withLock { core in
                let decided = core.lifecycle.frame(run: run, now: now)
                if case .publish(_, let first) = decided.0 {
                    if first { core.rate.reset() }
                    // A relayed NO SIGNAL keeps the run alive but is no frame of the camera.
                    if !format.isPlaceholder {
                        core.rate.record(at: now)
                        core.lastFrame = (bytes.count, format.width, format.height, capturedAt)
                    }
                }
                return decided
            }
            self.metrics.framesCaptured.increment()
            guard case .publish(let sequence, let first) = verdict else { return }
            self.perform(actions)
            if first {
                self.logger.info("first frame", metadata: ["width": "\(format.width)", "height": "\(format.height)", "bytes": "\(bytes.count)"])
            }
            let frame = Frame(
                stream: self.name, sequence: sequence, capturedAt: capturedAt, width: format.width, height: format.height,
                isPlaceholder: format.isPlaceholder, copying: bytes)
            self.hub.publish(frame, run: run)
        }
    }
}

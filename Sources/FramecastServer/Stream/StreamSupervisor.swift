import CoreMetrics
import Dispatch
public import Logging
public import MediaPipeline
public import ServiceLifecycle
import Synchronization

/// Runs one stream's pipeline for as long as somebody watches it.
///
/// Starts the pipeline when the first client arrives, sets it to NULL after `idleTimeout` without
/// clients, restarts it with back-off (1 s doubling to 30 s) after an error or end-of-stream while
/// clients stay connected, publishes its frames into `hub`, and re-sends the newest frame when the
/// source goes quiet.
///
/// Every GStreamer state change runs on one serial queue (they block: a camera takes a while to
/// open and close); GStreamer's threads only publish frames and post bus events onto that queue.
/// Shared state lives behind one lock that is never held across a GStreamer call.
public final class StreamSupervisor: Service, Sendable {
    public let name: String
    public let pipelineDescription: String
    /// The description with the passwords of its URLs masked: what status and logs show.
    public let shownDescription: String
    public let settings: StreamSettings
    public let hub = FrameHub()
    public let framer: MultipartFramer
    public let metrics: StreamMetrics

    private let logger: Logger
    private let queue: DispatchQueue
    private let createdAt = DispatchTime.now().uptimeNanoseconds
    private let core: Mutex<Core>

    private struct Core {
        var state: StreamState = .idle
        var pipeline: Pipeline?
        /// Identifies the current pipeline run; events from older runs are ignored.
        var generation: UInt64 = 0
        var runStartedAt: UInt64 = 0
        /// Frames the current run delivered, warm-up frames included.
        var framesThisRun = 0
        var clients = 0
        var restartDelay: Double
        var restarts = 0
        var framesPublished: UInt64 = 0
        var lastFrame: (bytes: Int, width: Int, height: Int, at: WallClock.Instant)?
        /// When clients were last sent something new (a frame, a repeat or a placeholder).
        var lastDelivery: UInt64 = 0
        /// When the current run last delivered a real frame (0: none yet).
        var lastRealFrame: UInt64 = 0
        var rate = InputRateMeter()
        var lastError: StreamStatus.LastError?
        /// Bumped to cancel a scheduled idle stop or restart.
        var idleToken: UInt64 = 0
        var idleStopPending = false
        var restartToken: UInt64 = 0
        var ticking = false
        var shutDown = false
    }

    /// Validates the description (throws a `PipelineError` a user can act on); runs nothing.
    public init(
        name: String, pipeline: String, settings: StreamSettings, metrics: StreamMetrics, logger: Logger
    ) throws(PipelineError) {
        try Pipeline.validate(pipeline)
        self.name = name
        self.metrics = metrics
        self.pipelineDescription = pipeline
        self.shownDescription = CredentialMask.mask(pipeline)
        self.settings = settings
        self.framer = MultipartFramer(streamName: name, sendfile: settings.sendfile)
        var logger = logger
        logger[metadataKey: "stream"] = .string(name)
        self.logger = logger
        self.queue = DispatchQueue(label: "framecast.stream.\(name)")
        self.core = Mutex(Core(restartDelay: settings.minimumRestartDelay))
    }

    // MARK: - Service

    public func run() async throws {
        queue.async { self.reconcile() }
        // Runs until the service group shuts down; everything else happens on the queue.
        try? await gracefulShutdown()
        await shutdown()
    }

    /// Stops the pipeline for good and ends every subscription (each stream then sends its
    /// closing boundary).
    public func shutdown() async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            queue.async {
                let pipeline = self.core.withLock { core -> Pipeline? in
                    core.shutDown = true
                    self.transition(&core, to: .idle)
                    core.idleToken += 1
                    core.restartToken += 1
                    defer { core.pipeline = nil }
                    return core.pipeline
                }
                if let pipeline { self.tearDown(pipeline, waiting: 1) }
                done.resume()
            }
        }
        hub.finish()
        logger.debug("stream stopped for shutdown")
    }

    // MARK: - Clients

    /// Registers a client (a stream viewer or a snapshot waiting for a frame). The pipeline starts
    /// if it is not running; it may stop once every lease is released and the idle time passed.
    public func acquireClient() -> ClientLease {
        let count = core.withLock { core in
            core.clients += 1
            return core.clients
        }
        metrics.clients.record(count)
        queue.async { self.reconcile() }
        return ClientLease { [weak self] in
            guard let self else { return }
            let count = self.core.withLock { core in
                core.clients -= 1
                return core.clients
            }
            self.metrics.clients.record(count)
            self.queue.async { self.reconcile() }
        }
    }

    /// The newest frame, only while frames are flowing: never a stale frame of a stopped or
    /// failed pipeline, never a placeholder.
    public func liveFrame() -> Frame? {
        guard core.withLock({ $0.state == .playing }), let latest = hub.latest, !latest.isPlaceholder else { return nil }
        return latest
    }

    /// Waits for a frame captured at or after `instant`, for at most `timeout` seconds.
    public func frame(capturedAfter instant: WallClock.Instant, timeout: Double) async -> Frame? {
        let frames = hub.subscribe(includingLatest: true)
        return await withTaskGroup(of: Frame?.self) { group in
            group.addTask {
                for await frame in frames where frame.capturedAt >= instant && !frame.isPlaceholder { return frame }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: .nanoseconds(timeout.saturatingNanoseconds))
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    public var state: StreamState { core.withLock { $0.state } }

    public func status() -> StreamStatus {
        let now = DispatchTime.now().uptimeNanoseconds
        let wallNow = WallClock.now()
        return core.withLock { core in
            StreamStatus(
                name: name,
                pipeline: shownDescription,
                state: core.state,
                fps: (core.rate.framesPerSecond(now: now) * 100).rounded() / 100,
                width: core.lastFrame?.width,
                height: core.lastFrame?.height,
                lastFrameBytes: core.lastFrame?.bytes,
                lastFrameAgeSeconds: core.lastFrame.map { $0.at.seconds(until: wallNow) },
                clients: core.clients,
                framesPublished: core.framesPublished,
                restarts: core.restarts,
                lastError: core.lastError,
                uptimeSeconds: Double(now - createdAt) / 1e9
            )
        }
    }

    /// Sets a pipeline to NULL, waiting at most `seconds`. An element stuck in a blocking call
    /// that it cannot interrupt (a read from a pipe, a hung driver) would otherwise hold this
    /// stream's queue, and with it every later restart and the server's shutdown, forever: such a
    /// pipeline is abandoned to its own thread and reported.
    private func tearDown(_ pipeline: Pipeline, waiting seconds: Double = 3) {
        let stopped = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            pipeline.stop()
            stopped.signal()
        }
        if stopped.wait(timeout: .now() + seconds) == .timedOut {
            logger.error("the pipeline did not stop within \(seconds.formatted()) s (an element is stuck); abandoning it")
        }
    }

    private func transition(_ core: inout Core, to state: StreamState) {
        core.state = state
        metrics.enter(state)
    }

    // MARK: - Lifecycle (on `queue` only)

    /// Brings the pipeline in line with the client count: start when wanted, schedule an idle stop
    /// when nobody watches.
    private func reconcile() {
        enum Action { case none, start, scheduleIdleStop(UInt64) }
        let (action, startTicking) = core.withLock { core -> (Action, Bool) in
            guard !core.shutDown else { return (.none, false) }
            let wanted = core.clients > 0 || settings.alwaysOn
            var startTicking = false
            if wanted, !core.ticking {
                core.ticking = true
                startTicking = true
            }
            if wanted {
                if core.idleStopPending {
                    core.idleStopPending = false
                    core.idleToken += 1
                }
                if core.state == .idle || core.state == .error {
                    if core.state == .error {
                        core.restarts += 1
                        metrics.restarts.increment()
                    }
                    return (.start, startTicking)
                }
                return (.none, startTicking)
            }
            if core.state != .idle, !core.idleStopPending {
                core.idleStopPending = true
                core.idleToken += 1
                return (.scheduleIdleStop(core.idleToken), startTicking)
            }
            return (.none, startTicking)
        }
        if startTicking { scheduleTick(after: settings.repeatInterval) }
        switch action {
        case .none:
            break
        case .start:
            startPipeline()
        case .scheduleIdleStop(let token):
            queue.asyncAfter(deadline: .now() + settings.idleTimeout) { self.stopWhenIdle(token: token) }
        }
    }

    private func startPipeline() {
        let generation = core.withLock { core -> UInt64 in
            core.generation += 1
            return core.generation
        }
        let pipeline: Pipeline
        do {
            pipeline = try Pipeline(
                description: pipelineDescription,
                onSample: makeSampleHandler(generation: generation),
                onBusEvent: { [weak self] event in
                    guard let self else { return }
                    self.queue.async { self.handle(event, generation: generation) }
                })
        } catch {
            // Validated at start-up, so only a changed environment (a plugin removed) lands here.
            fail(generation: generation, fault: PipelineFault(element: nil, message: error.description, debug: nil), force: true)
            return
        }
        core.withLock { core in
            core.pipeline = pipeline
            self.transition(&core, to: .starting)
            core.runStartedAt = DispatchTime.now().uptimeNanoseconds
            core.lastRealFrame = 0
            core.framesThisRun = 0
        }
        logger.info("starting pipeline")
        do {
            try pipeline.play()
        } catch {
            // The element's own error was posted on the bus during play() and is already queued
            // ahead of this: it carries the better message. This one only acts if it did not.
            let fault = PipelineFault(element: nil, message: error.description, debug: nil)
            queue.async { self.fail(generation: generation, fault: fault) }
        }
    }

    private func handle(_ event: BusEvent, generation: UInt64) {
        switch event.masked {
        case .error(let fault):
            logger.error(
                "pipeline error",
                metadata: ["element": .string(fault.element ?? "?"), "message": .string(fault.message), "debug": .string(fault.debug ?? "")])
            fail(generation: generation, fault: fault)
        case .warning(let fault):
            logger.warning(
                "pipeline warning",
                metadata: ["element": .string(fault.element ?? "?"), "message": .string(fault.message), "debug": .string(fault.debug ?? "")])
        case .endOfStream:
            logger.info("pipeline reached end-of-stream")
            fail(generation: generation, fault: PipelineFault(element: nil, message: "end of stream: the source finished", debug: nil))
        }
    }

    /// Tears the failed run down and schedules a restart while anyone watches.
    private func fail(generation: UInt64, fault: PipelineFault, force: Bool = false) {
        let fault = fault.masked
        enum Next { case ignore, restart(after: Double, token: UInt64), wait }
        let now = DispatchTime.now().uptimeNanoseconds
        var failed: Pipeline?
        let next = core.withLock { core -> Next in
            guard generation == core.generation, core.pipeline != nil || force, !core.shutDown else { return .ignore }
            failed = core.pipeline
            core.pipeline = nil
            core.lastError = .init(element: fault.element, message: fault.message, debug: fault.debug, at: WallClock.now().secondsSinceEpoch)
            core.rate.reset()
            // A run that lasted longer than the longest delay was healthy: start over at the shortest.
            if Double(now - core.runStartedAt) / 1e9 >= settings.maximumRestartDelay {
                core.restartDelay = settings.minimumRestartDelay
            }
            guard core.clients > 0 || settings.alwaysOn else {
                self.transition(&core, to: .error)
                return .wait
            }
            self.transition(&core, to: .restarting)
            let delay = core.restartDelay
            core.restartDelay = min(core.restartDelay * 2, settings.maximumRestartDelay)
            core.restartToken += 1
            return .restart(after: delay, token: core.restartToken)
        }
        if let failed { tearDown(failed) }
        switch next {
        case .ignore:
            break
        case .wait:
            logger.info("pipeline stopped after a failure; it starts again with the next client")
        case .restart(let delay, let token):
            logger.info("restarting pipeline", metadata: ["in_seconds": .stringConvertible(delay)])
            // Viewers see at once that the camera is gone, then once a second until it returns.
            showPlaceholderNow()
            queue.asyncAfter(deadline: .now() + delay) { self.restart(token: token) }
        }
    }

    /// Publishes the placeholder now (the stream just went down) if anyone watches.
    private func showPlaceholderNow() {
        let now = DispatchTime.now().uptimeNanoseconds
        let picture = core.withLock { core -> (width: Int, height: Int, at: WallClock.Instant?)? in
            guard core.clients > 0, !core.shutDown else { return nil }
            core.lastDelivery = now
            return (core.lastFrame?.width ?? 640, core.lastFrame?.height ?? 480, core.lastFrame?.at)
        }
        if let picture {
            publishPlaceholder(width: picture.width, height: picture.height, lastFrameAt: picture.at, starting: false)
        }
    }

    private func restart(token: UInt64) {
        let go = core.withLock { core -> Bool in
            guard token == core.restartToken, core.state == .restarting, !core.shutDown else { return false }
            core.restarts += 1
            metrics.restarts.increment()
            return true
        }
        if go { startPipeline() }
    }

    private func stopWhenIdle(token: UInt64) {
        let idle = core.withLock { core -> Pipeline?? in
            guard token == core.idleToken, core.idleStopPending, core.clients == 0, !settings.alwaysOn, !core.shutDown else { return nil }
            core.idleStopPending = false
            self.transition(&core, to: .idle)
            core.restartToken += 1  // cancels a pending restart
            core.rate.reset()
            defer { core.pipeline = nil }
            return .some(core.pipeline)
        }
        guard let idle else { return }
        if let idle { tearDown(idle) }
        // The newest frame would be stale for whoever comes next.
        hub.clearLatest()
        logger.info("no clients for \(settings.idleTimeout) s: pipeline set to NULL")
    }

    /// Once per `repeatInterval` at most, while anyone watches or a pipeline runs:
    /// - a playing stream quiet for an interval re-sends its newest frame (still scenes keep
    ///   painting, proxies keep the connection);
    /// - a stream that is down (restarting, failed, or starting without a frame yet) sends a
    ///   "NO SIGNAL" placeholder instead, so viewers keep their connection and see why;
    /// - a running pipeline with no frame for `frameTimeout` counts as failed and is restarted.
    private func scheduleTick(after seconds: Double) {
        queue.asyncAfter(deadline: .now() + max(0.01, seconds)) { self.tick() }
    }

    private enum TickWork {
        case none
        case repeatLatest
        case placeholder(width: Int, height: Int, lastFrameAt: WallClock.Instant?, starting: Bool)
        case stalled(generation: UInt64, seconds: Double)
    }

    private func tick() {
        let interval = settings.repeatInterval
        let intervalNanoseconds = UInt64(interval.saturatingNanoseconds)
        let now = DispatchTime.now().uptimeNanoseconds
        let (work, next) = core.withLock { core -> (TickWork, Double?) in
            guard !core.shutDown, core.clients > 0 || core.pipeline != nil || settings.alwaysOn else {
                core.ticking = false
                return (.none, nil)
            }
            let quietFor = now &- core.lastDelivery
            let quiet = core.lastDelivery == 0 || quietFor >= intervalNanoseconds
            let untilNext = quiet ? interval : Double(intervalNanoseconds - quietFor) / 1e9
            if core.pipeline != nil, core.state == .starting || core.state == .playing {
                let since = max(core.runStartedAt, core.lastRealFrame)
                if now &- since >= UInt64(settings.frameTimeout.saturatingNanoseconds) {
                    return (.stalled(generation: core.generation, seconds: settings.frameTimeout), interval)
                }
            }
            guard core.clients > 0, quiet else { return (.none, untilNext) }
            switch core.state {
            case .playing:
                core.lastDelivery = now
                return (.repeatLatest, interval)
            case .starting, .restarting, .error:
                core.lastDelivery = now
                return (
                    .placeholder(
                        width: core.lastFrame?.width ?? 640, height: core.lastFrame?.height ?? 480,
                        lastFrameAt: core.lastFrame?.at, starting: core.state == .starting && core.lastError == nil),
                    interval
                )
            case .idle:
                return (.none, interval)
            }
        }
        switch work {
        case .none:
            break
        case .repeatLatest:
            hub.repeatLatest()
        case .placeholder(let width, let height, let lastFrameAt, let starting):
            publishPlaceholder(width: width, height: height, lastFrameAt: lastFrameAt, starting: starting)
        case .stalled(let generation, let seconds):
            logger.warning("no frame for \(seconds.formatted()) s: restarting the pipeline")
            fail(generation: generation, fault: PipelineFault(element: nil, message: "no frame for \(seconds.formatted()) s", debug: nil))
        }
        if let next { scheduleTick(after: next) }
    }

    private func publishPlaceholder(width: Int, height: Int, lastFrameAt: WallClock.Instant?, starting: Bool) {
        var lines = [starting ? "STARTING" : "NO SIGNAL", name]
        if let lastFrameAt {
            lines.append("last frame \(Self.describe(seconds: lastFrameAt.seconds(until: WallClock.now()))) ago")
        }
        guard let jpeg = PlaceholderRenderer.render(width: width, height: height, text: lines.joined(separator: "\n")) else {
            logger.debug("could not render the placeholder picture")
            return
        }
        let frame = jpeg.withUnsafeBytes { bytes in
            framer.makeFrame(
                jpeg: bytes, width: width, height: height, sequence: 0, capturedAt: WallClock.now(), isPlaceholder: true)
        }
        // Rendering took a moment: if real frames started meanwhile, the placeholder is stale and
        // must not replace them. Checked and published under the lock that the frame handler
        // takes to mark the stream playing, so a real frame is always published after it.
        core.withLock { core in
            guard core.state != .playing, !core.shutDown else { return }
            hub.publish(frame)
        }
    }

    /// "12 s", "3 min 5 s", "2 h 4 min".
    static func describe(seconds: Double) -> String {
        let total = seconds.isFinite ? Int(min(max(0, seconds), 1e12)) : 0
        if total < 60 { return "\(total) s" }
        if total < 3600 { return "\(total / 60) min \(total % 60) s" }
        return "\(total / 3600) h \(total % 3600 / 60) min"
    }

    // MARK: - Frames (on GStreamer's streaming thread)

    private func makeSampleHandler(generation: UInt64) -> SampleHandler {
        let warmupFrames = settings.warmupFrames
        return { [weak self] bytes, format in
            guard let self else { return }
            let capturedAt = WallClock.now()
            let now = DispatchTime.now().uptimeNanoseconds
            let accepted = self.core.withLock { core -> (sequence: UInt64, firstOfRun: Bool)? in
                guard core.generation == generation, !core.shutDown else { return nil }
                core.framesThisRun += 1
                // Warm-up frames (dark while auto-exposure settles) are captured but never served.
                guard core.framesThisRun > warmupFrames else { return nil }
                core.framesPublished += 1
                core.rate.record(at: now)
                core.lastDelivery = now
                core.lastRealFrame = now
                core.lastFrame = (bytes.count, format.width, format.height, capturedAt)
                if core.state == .starting || core.state == .restarting {
                    self.transition(&core, to: .playing)
                }
                return (core.framesPublished, core.framesThisRun == warmupFrames + 1)
            }
            self.metrics.framesCaptured.increment()
            guard let accepted else { return }
            if accepted.firstOfRun {
                self.logger.info("first frame", metadata: ["width": "\(format.width)", "height": "\(format.height)", "bytes": "\(bytes.count)"])
            }
            let frame = self.framer.makeFrame(
                jpeg: bytes, width: format.width, height: format.height, sequence: accepted.sequence, capturedAt: capturedAt)
            let skipped = self.hub.publish(frame)
            if skipped > 0 { self.metrics.framesSkipped.increment(by: skipped) }
        }
    }
}

extension Double {
    /// "5" for whole numbers, "2.5" otherwise.
    func formatted() -> String {
        self == rounded() && abs(self) < 1e15 ? String(Int64(self)) : String(self)
    }
}

extension PipelineFault {
    /// The fault with URL passwords masked in every field (element messages quote locations).
    var masked: PipelineFault {
        PipelineFault(element: element.map(CredentialMask.mask), message: CredentialMask.mask(message), debug: debug.map(CredentialMask.mask))
    }
}

extension BusEvent {
    var masked: BusEvent {
        switch self {
        case .error(let fault): .error(fault.masked)
        case .warning(let fault): .warning(fault.masked)
        case .endOfStream: .endOfStream
        }
    }
}

/// One stream's lifecycle as a value: events in, actions out. No GStreamer, no clock, no queue:
/// `StreamSupervisor` feeds it events with the time they happened and carries out what it returns
/// (outside its lock). Every rule about when a pipeline starts, stops, restarts or counts as stalled
/// lives here, and the unit tests drive it with a clock of their own.
struct StreamLifecycle {
    /// One pipeline run, from `startPipeline` to `tearDown`. Frames and bus events carry the run
    /// they came from: anything from an older run is ignored.
    struct Run: Equatable {
        let id: UInt64
        let startedAt: UInt64
        /// Started again after a failure (its placeholder says NO SIGNAL, not STARTING).
        let afterFailure: Bool
        /// Frames this run delivered, warm-up frames included.
        var frames = 0
        /// When this run last delivered a frame, warm-up frames included (the source is alive).
        var lastFrameAt: UInt64?
    }

    /// Waiting to start a new run after a failure.
    struct Backoff: Equatable {
        let delay: Double
        let timer: Timer
        let error: StreamStatus.LastError
    }

    enum State: Equatable {
        /// No pipeline: nobody watches, or never started.
        case idle
        /// Set to PLAYING, no frame published yet.
        case starting(Run)
        case playing(Run)
        /// Failed while watched: a new run starts when the back-off timer fires.
        case restarting(Backoff)
        /// Failed with nobody watching: the next client starts it again.
        case failed(StreamStatus.LastError)
        /// Shut down for good.
        case stopped
    }

    /// A timer the supervisor schedules and reports back with `timerFired`. A timer that no
    /// longer matches the state (cancelled by a later event) is ignored when it fires.
    enum Timer: Hashable {
        case tick
        case restart(UInt64)
        case idleStop(UInt64)
    }

    let settings: StreamSettings
    private(set) var state: State = .idle
    private(set) var clients = 0
    private(set) var restarts = 0
    private(set) var framesPublished: UInt64 = 0
    private(set) var lastError: StreamStatus.LastError?
    /// The delay of the next restart: doubles per failure, back to the minimum after a healthy run.
    private(set) var restartDelay: Double
    private var nextRun: UInt64 = 0
    private var nextTimer: UInt64 = 0
    /// The one idle-stop timer outstanding, if any. Timers cannot be cancelled: a client that
    /// returns and leaves again reuses it (it reschedules itself for the rest of the idle time),
    /// so client churn never piles up timers.
    private var idleStop: Timer?
    /// Since when nobody wants the stream (nil while somebody does).
    private var idleSince: UInt64?
    private var ticking = false
    /// When viewers were last sent something (a frame, a repeat or a placeholder).
    private var lastDelivery: UInt64?

    init(settings: StreamSettings) {
        self.settings = settings
        self.restartDelay = settings.minimumRestartDelay
    }

    /// The state as status shows it.
    var publicState: StreamState {
        switch state {
        case .idle, .stopped: .idle
        case .starting: .starting
        case .playing: .playing
        case .restarting: .restarting
        case .failed: .error
        }
    }

    /// The run whose frames are wanted, if a pipeline runs.
    var currentRun: Run? {
        switch state {
        case .starting(let run), .playing(let run): run
        default: nil
        }
    }

    private var wanted: Bool { clients > 0 || settings.alwaysOn }

    // MARK: - Events

    /// The server started (with `--always-on` the pipeline starts at once).
    mutating func begin(now: UInt64) -> [Action] {
        reconcile(now: now)
    }

    mutating func clientsChanged(to count: Int, now: UInt64) -> [Action] {
        clients = max(0, count)
        return reconcile(now: now)
    }

    mutating func frame(run id: UInt64, now: UInt64) -> (FrameVerdict, [Action]) {
        guard var run = currentRun, run.id == id else { return (.drop, []) }
        run.frames += 1
        run.lastFrameAt = now
        // Warm-up frames (dark while auto-exposure settles) are captured but never served.
        guard run.frames > settings.warmupFrames else {
            state = isPlaying ? .playing(run) : .starting(run)
            return (.drop, [])
        }
        lastDelivery = now
        framesPublished += 1
        let first = !isPlaying
        state = .playing(run)
        return (.publish(sequence: framesPublished, first: first), first ? [.entered(.playing)] : [])
    }

    /// The run's producer is alive without a frame to publish (a rendition whose source shows a
    /// placeholder): it does not count as stalled, like a warm-up frame.
    mutating func alive(run id: UInt64, now: UInt64) {
        guard var run = currentRun, run.id == id else { return }
        run.lastFrameAt = now
        state = isPlaying ? .playing(run) : .starting(run)
    }

    /// A bus error, end-of-stream, or a pipeline that could not be built or set to PLAYING.
    mutating func failed(run id: UInt64, error: StreamStatus.LastError, now: UInt64) -> [Action] {
        guard let run = currentRun, run.id == id else { return [] }
        lastError = error
        var actions: [Action] = [.tearDown(run: run.id)]
        // A run that delivered frames for longer than the longest delay was healthy: start over at
        // the shortest. A run that never delivered was not, however long it took to fail.
        if isPlaying, Double(now &- run.startedAt) / 1e9 >= settings.maximumRestartDelay {
            restartDelay = settings.minimumRestartDelay
        }
        guard wanted else {
            state = .failed(error)
            return actions + [.entered(.error), .waitingForClient]
        }
        let backoff = Backoff(delay: restartDelay, timer: makeTimer(Timer.restart), error: error)
        restartDelay = min(restartDelay * 2, settings.maximumRestartDelay)
        state = .restarting(backoff)
        actions += [.entered(.restarting), .restartScheduled(after: backoff.delay), .schedule(after: backoff.delay, timer: backoff.timer)]
        // Viewers see at once that the camera is gone, then once per repeat interval until it returns.
        if clients > 0 {
            lastDelivery = now
            actions.append(.showPlaceholder(.noSignal))
        }
        return actions
    }

    /// The stream's pipeline was replaced (a reload): a run in progress is torn down and one of
    /// the new pipeline started at once, its viewers shown NO SIGNAL in between; a stream waiting
    /// to restart starts now. A stream not running starts the new pipeline with its next client.
    mutating func pipelineReplaced(now: UInt64) -> [Action] {
        var actions: [Action] = []
        switch state {
        case .starting(let run), .playing(let run):
            actions.append(.tearDown(run: run.id))
        case .restarting:
            break
        case .idle, .failed, .stopped:
            return []
        }
        // The new pipeline owes nothing to the old one's failures.
        restartDelay = settings.minimumRestartDelay
        actions += start(now: now, afterFailure: true)
        if clients > 0 {
            lastDelivery = now
            actions.append(.showPlaceholder(.noSignal))
        }
        return actions
    }

    /// `wallSeconds`: the wall clock at `now`, for the error a stalled run records.
    mutating func timerFired(_ timer: Timer, now: UInt64, wallSeconds: Double) -> [Action] {
        switch timer {
        case .tick:
            return tick(now: now, wallSeconds: wallSeconds)
        case .restart:
            guard case .restarting(let backoff) = state, backoff.timer == timer else { return [] }
            // Everyone left during the back-off: no camera is opened for nobody.
            guard wanted else {
                state = .failed(backoff.error)
                return [.entered(.error), .waitingForClient]
            }
            restarts += 1
            return [.restartCounted] + start(now: now, afterFailure: true)
        case .idleStop:
            guard idleStop == timer else { return [] }
            idleStop = nil
            guard !wanted, let since = idleSince, currentRun != nil || publicState == .restarting else { return [] }
            let idleFor = Double(now &- since) / 1e9
            if idleFor < settings.idleTimeout {
                // Somebody came and left again meanwhile: the idle time counts from then.
                let next = makeTimer(Timer.idleStop)
                idleStop = next
                return [.schedule(after: settings.idleTimeout - idleFor, timer: next)]
            }
            var actions: [Action] = []
            if let run = currentRun { actions.append(.tearDown(run: run.id)) }
            switch state {
            case .starting, .playing:
                state = .idle
                lastDelivery = nil
                return actions + [.entered(.idle), .stoppedIdle]
            case .restarting(let backoff):
                // Failed, and nobody came back during the back-off: the same end as when the
                // restart timer fires first.
                state = .failed(backoff.error)
                return [.entered(.error), .waitingForClient]
            case .idle, .failed, .stopped:
                return actions
            }
        }
    }

    mutating func shutdown() -> [Action] {
        guard state != .stopped else { return [] }
        var actions: [Action] = []
        if let run = currentRun { actions.append(.tearDown(run: run.id)) }
        state = .stopped
        idleStop = nil
        return actions + [.entered(.idle), .finish]
    }

    // MARK: - Rules

    private var isPlaying: Bool {
        if case .playing = state { return true }
        return false
    }

    private mutating func makeTimer(_ kind: (UInt64) -> Timer) -> Timer {
        nextTimer += 1
        return kind(nextTimer)
    }

    /// Brings the pipeline in line with the clients: start when wanted, stop when idle long enough.
    private mutating func reconcile(now: UInt64) -> [Action] {
        guard state != .stopped else { return [] }
        var actions: [Action] = []
        if wanted {
            idleSince = nil
            if !ticking {
                ticking = true
                actions.append(.schedule(after: settings.repeatInterval, timer: .tick))
            }
            switch state {
            case .idle:
                return actions + start(now: now)
            case .failed:
                restarts += 1
                return actions + [.restartCounted] + start(now: now, afterFailure: true)
            case .starting, .playing, .restarting, .stopped:
                return actions
            }
        }
        if idleSince == nil { idleSince = now }
        switch state {
        case .starting, .playing, .restarting:
            if idleStop == nil {
                let timer = makeTimer(Timer.idleStop)
                idleStop = timer
                actions.append(.schedule(after: settings.idleTimeout, timer: timer))
            }
        case .idle, .failed, .stopped:
            break
        }
        return actions
    }

    private mutating func start(now: UInt64, afterFailure: Bool = false) -> [Action] {
        nextRun += 1
        state = .starting(Run(id: nextRun, startedAt: now, afterFailure: afterFailure))
        return [.entered(.starting), .startPipeline(run: nextRun)]
    }

    /// Once per repeat interval while anyone watches or a pipeline runs:
    /// - a pipeline with no frame for `frameTimeout` counts as failed;
    /// - a playing stream quiet for an interval sends its newest frame again;
    /// - a stream that is down (starting, restarting, failed) sends a placeholder instead.
    private mutating func tick(now: UInt64, wallSeconds: Double) -> [Action] {
        guard state != .stopped, wanted || currentRun != nil else {
            ticking = false
            return []
        }
        let interval = settings.repeatInterval
        var actions: [Action] = []
        if let run = currentRun {
            let since = max(run.startedAt, run.lastFrameAt ?? 0)
            if Double(now &- since) / 1e9 >= settings.frameTimeout {
                let seconds = settings.frameTimeout
                let error = StreamStatus.LastError(
                    element: nil, message: "no frame for \(seconds.formatted()) s", debug: nil, at: wallSeconds)
                actions.append(.stalled(seconds: seconds))
                actions += failed(run: run.id, error: error, now: now)
            }
        }
        let quietFor = lastDelivery.map { Double(now &- $0) / 1e9 } ?? .infinity
        guard clients > 0, quietFor >= interval else {
            let untilNext = quietFor < interval ? interval - quietFor : interval
            return actions + [.schedule(after: max(0.01, untilNext), timer: .tick)]
        }
        switch state {
        case .playing:
            lastDelivery = now
            actions.append(.repeatLatest)
        case .starting(let run):
            lastDelivery = now
            actions.append(.showPlaceholder(run.afterFailure ? .noSignal : .starting))
        case .restarting, .failed:
            lastDelivery = now
            actions.append(.showPlaceholder(.noSignal))
        case .idle, .stopped:
            break
        }
        return actions + [.schedule(after: interval, timer: .tick)]
    }
}

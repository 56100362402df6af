/// `StreamLifecycle`: the state machine that decides when a stream's pipeline starts, stops,
/// restarts or counts as stalled, driven by random event sequences against a fake monotonic clock.
///
/// Input: 4 bytes of settings, then events of 3 bytes each (a missing byte reads as 0):
/// - settings: byte 0 = warm-up frames (bits 0-1) and always-on (bit 2); byte 1 = minimum restart
///   delay (bits 0-2, 0.25 s steps from 0.25 s) and how much longer the maximum is (bits 3-6, 0.5 s
///   steps); byte 2 = idle timeout (bits 0-3, 0.5 s steps from 0) and repeat interval (bits 4-7,
///   0.25 s steps from 0.25 s); byte 3 = frame timeout (bits 0-3, 0.5 s steps from 0.5 s).
/// - an event: [kind, time, argument]. `time` advances the clock first: 10 ms steps below 128, 250 ms
///   steps from 128 (up to 31.75 s). `kind` modulo 16 picks: 0-2 clients changed (argument modulo 6,
///   minus 1: -1 to 4), 3-6 a frame of the current run, 7 a frame of any run id (0 to one past the
///   newest, argument modulo), 8-9 a failure of the current run, 10 a failure of any run id, 11-13 a
///   timer fires, 14 begin, 15 shutdown. A timer is one that an earlier `.schedule` action asked for:
///   with argument bit 7 clear one not fired yet, with it set any of them (so one may fire twice); the
///   clock first moves on to its due time, as the supervisor's queue would.
///
/// Invariants, after every event (see `LifecycleModel.checkAfter` and `checkState`):
/// - runs: ids only grow; at most one run is started and not torn down, and it is `currentRun`;
///   `currentRun` is non-nil exactly in starting and playing and agrees with what the harness saw
///   (start time, frames, newest frame); a pipeline starts only while wanted (clients or always-on);
///   a back-off that ends with nobody watching goes to error without starting one.
/// - frames: only the current run publishes, never a warm-up frame, never after shutdown; sequence
///   numbers are 1, 2, 3... and equal `framesPublished`; `first` marks exactly a run's first
///   published frame; a frame of another run changes nothing.
/// - states: `publicState` follows `state`, every change of it comes with one `.entered`; never idle
///   or failed while wanted (once clients or `begin` were applied); a failure leaves restarting when
///   wanted, error when not; after shutdown no event acts; `.finish` once, at the first shutdown.
/// - counters: restarts only grow and equal the `.restartCounted` actions (each with a start); the
///   last error changes only on a failure of the current run or a stall.
/// - timers: restart delays follow the back-off (doubling within [minimum, maximum], back to the
///   minimum after a run that lasted the maximum), each announced by `.restartScheduled`; an idle
///   stop is scheduled only when the last client leaves and acts only while unwanted and if newest;
///   a fired restart or idle stop acts at most once; one tick chain while wanted (not two); a running
///   pipeline always has a tick or an idle stop pending.
/// - viewers: placeholders only with clients, STARTING only for a run started fresh, NO SIGNAL
///   otherwise and never while playing; `.repeatLatest` only while playing; a tick sends something
///   at most once and (with clients) at least once per repeat interval.
/// - stalls: only after `frameTimeout` without a frame; a tick never leaves a stalled run running.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    var input = LifecycleInput(FuzzInput(data, size).bytes)
    var model = LifecycleModel(settings: input.settings())
    while let event = input.nextEvent() {
        model.apply(event)
    }
    return 0
}

private typealias Action = StreamLifecycle.Action
private typealias LifecycleTimer = StreamLifecycle.Timer

/// What the harness asks the lifecycle, before run ids and timers are resolved.
private enum Step {
    case clients(Int)
    case frameOfCurrentRun
    case frame(runChoice: UInt8)
    case failureOfCurrentRun
    case failure(runChoice: UInt8)
    case timer(choice: UInt8)
    case begin
    case shutdown
}

/// Reads settings and steps from the input bytes.
private struct LifecycleInput {
    let bytes: UnsafeRawBufferPointer
    var offset = 0

    init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    mutating func byte() -> UInt8 {
        defer { offset += 1 }
        return offset < bytes.count ? bytes[offset] : 0
    }

    mutating func settings() -> StreamSettings {
        let (flags, restart, timing, stall) = (byte(), byte(), byte(), byte())
        var settings = StreamSettings()
        settings.warmupFrames = Int(flags & 3)
        settings.alwaysOn = flags & 4 != 0
        settings.minimumRestartDelay = Double((restart & 7) + 1) * 0.25
        settings.maximumRestartDelay = settings.minimumRestartDelay + Double((restart >> 3) & 15) * 0.5
        settings.idleTimeout = Double(timing & 15) * 0.5
        settings.repeatInterval = Double((timing >> 4) + 1) * 0.25
        settings.frameTimeout = Double((stall & 15) + 1) * 0.5
        return settings
    }

    /// The next step and the nanoseconds the clock advances before it; nil at the end of the input.
    mutating func nextEvent() -> (advance: UInt64, step: Step)? {
        guard offset < bytes.count else { return nil }
        let (kind, time, argument) = (byte(), byte(), byte())
        let advance = time < 128 ? UInt64(time) * 10_000_000 : UInt64(time - 128) * 250_000_000
        let step: Step = switch kind % 16 {
        case 0...2: .clients(Int(argument % 6) - 1)
        case 3...6: .frameOfCurrentRun
        case 7: .frame(runChoice: argument)
        case 8...9: .failureOfCurrentRun
        case 10: .failure(runChoice: argument)
        case 11...13: .timer(choice: argument)
        case 14: .begin
        default: .shutdown
        }
        return (advance, step)
    }
}

/// The event as the lifecycle received it, for the trace a broken invariant prints.
private enum Event: CustomStringConvertible {
    case begin(now: UInt64)
    case clientsChanged(Int, now: UInt64)
    case frame(run: UInt64, now: UInt64)
    case failed(run: UInt64, now: UInt64)
    case timerFired(LifecycleTimer, now: UInt64, again: Bool)
    case shutdown

    var description: String {
        func at(_ now: UInt64) -> String { "t=\(Double(now) / 1e9)" }
        return switch self {
        case .begin(let now): "begin \(at(now))"
        case .clientsChanged(let count, let now): "clients \(count) \(at(now))"
        case .frame(let run, let now): "frame run \(run) \(at(now))"
        case .failed(let run, let now): "failed run \(run) \(at(now))"
        case .timerFired(let timer, let now, let again): "fire \(timer)\(again ? " (again)" : "") \(at(now))"
        case .shutdown: "shutdown"
        }
    }
}

/// The lifecycle, what the harness knows independently of it, and the checks that compare the two.
private struct LifecycleModel {
    /// A run the harness saw start and not yet torn down.
    struct LiveRun {
        let id: UInt64
        let startedAt: UInt64
        /// Started by a restart (its placeholder says NO SIGNAL, not STARTING).
        let afterFailure: Bool
        var frames = 0
        var published = 0
        /// Its newest frame, warm-up frames included.
        var lastFrameAt: UInt64?
    }

    struct ScheduledTimer {
        let timer: LifecycleTimer
        let due: UInt64
        var fired = false
    }

    let settings: StreamSettings
    var lifecycle: StreamLifecycle
    var now: UInt64 = 1_000_000_000
    static let wallSeconds = 1_700_000_000.0

    var trace: [(Event, [Action], StreamLifecycle.FrameVerdict?)] = []
    var live: LiveRun?
    var newestRun: UInt64 = 0
    var clients = 0
    var reconciled = false
    var shutDown = false
    var finished = false
    var published: UInt64 = 0
    var restartsCounted = 0
    var timers: [ScheduledTimer] = []
    /// Indices into `timers` of those not fired yet.
    var pending: [Int] = []
    var pendingTicks = 0
    var timerIDs: Set<UInt64> = []
    /// Where in `timers` each restart and idle stop is (their ids are unique).
    var timerIndex: [LifecycleTimer: Int] = [:]
    /// A tick fired a second time starts a second chain: from then on the chain is not single.
    var tickFiredAgain = false
    /// Where in `timers` the newest idle stop is.
    var latestIdleStop: Int?
    /// Since when nobody has wanted the stream, as the lifecycle counts it (nil while wanted).
    var idleSince: UInt64?
    /// The next restart delay, computed from the failures the harness saw.
    var expectedDelay: Double
    /// When viewers were last sent something (a frame, a repeat or a placeholder); nil after an
    /// idle stop, as in the lifecycle.
    var lastDelivery: UInt64?

    init(settings: StreamSettings) {
        self.settings = settings
        lifecycle = StreamLifecycle(settings: settings)
        expectedDelay = settings.minimumRestartDelay
    }

    var wanted: Bool { clients > 0 || settings.alwaysOn }

    func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
        invariant(condition(), "\(message())\n  settings: \(settingsText)\n  state: \(lifecycle.state)\n  events:\n\(traceText)")
    }

    var settingsText: String {
        "warmup \(settings.warmupFrames), alwaysOn \(settings.alwaysOn), restart delay \(settings.minimumRestartDelay)...\(settings.maximumRestartDelay), idle \(settings.idleTimeout), repeat \(settings.repeatInterval), frame timeout \(settings.frameTimeout)"
    }

    /// The last events, their verdicts and actions, without the module and type prefixes.
    var traceText: String {
        let lines = trace.suffix(40).map { event, actions, verdict in
            "    \(event)\(verdict.map { " -> \($0)" } ?? "") -> \(actions)"
        }
        return ["FramecastFuzz.", "StreamLifecycle.", "Action.", "Timer.", "PlaceholderReason.", "StreamState.", "FrameVerdict."]
            .reduce(lines.joined(separator: "\n")) { $0.replacing($1, with: "") }
    }

    // MARK: - Events

    mutating func apply(_ event: (advance: UInt64, step: Step)) {
        now += event.advance
        let before = lifecycle
        switch event.step {
        case .clients(let count):
            clients = max(0, count)
            if wanted {
                idleSince = nil
            } else if idleSince == nil, !shutDown {
                idleSince = now
            }
            reconciled = true
            record(.clientsChanged(count, now: now), lifecycle.clientsChanged(to: count, now: now), before: before)
        case .begin:
            reconciled = true
            record(.begin(now: now), lifecycle.begin(now: now), before: before)
        case .shutdown:
            record(.shutdown, lifecycle.shutdown(), before: before)
        case .frameOfCurrentRun:
            frame(run: lifecycle.currentRun?.id ?? newestRun, before: before)
        case .frame(let choice):
            frame(run: UInt64(choice) % (newestRun + 2), before: before)
        case .failureOfCurrentRun:
            failure(run: lifecycle.currentRun?.id ?? newestRun, before: before)
        case .failure(let choice):
            failure(run: UInt64(choice) % (newestRun + 2), before: before)
        case .timer(let choice):
            fireTimer(choice: choice, before: before)
        }
    }

    mutating func frame(run id: UInt64, before: StreamLifecycle) {
        let (verdict, actions) = lifecycle.frame(run: id, now: now)
        trace.append((.frame(run: id, now: now), actions, verdict))
        let current = live?.id == id && !shutDown
        if current {
            live!.frames += 1
            live!.lastFrameAt = now
        }
        switch verdict {
        case .drop:
            check(actions.isEmpty, "a dropped frame acted")
            if current {
                check(live!.frames <= settings.warmupFrames, "frame \(live!.frames) of run \(id), past the \(settings.warmupFrames) warm-up frames, was dropped")
            } else {
                check(lifecycle.state == before.state && lifecycle.framesPublished == before.framesPublished, "a frame of run \(id), not the current one, changed the state")
            }
        case .publish(let sequence, let first):
            check(!shutDown, "a frame was published after shutdown")
            check(current, "run \(id) published, but the current run is \(live.map { "\($0.id)" } ?? "none")")
            check(live!.frames > settings.warmupFrames, "warm-up frame \(live!.frames) of \(settings.warmupFrames) was published")
            published += 1
            check(sequence == published, "published sequence \(sequence), expected \(published)")
            check(first == (live!.published == 0), "first: \(first) for published frame \(live!.published + 1) of the run")
            check(first == (before.publicState == .starting), "first: \(first) while \(before.publicState)")
            check(actions == (first ? [.entered(.playing)] : []), "a published frame acted: \(actions)")
            live!.published += 1
            lastDelivery = now
        }
        checkAfter(actions, before: before, event: .frame)
    }

    mutating func failure(run id: UInt64, before: StreamLifecycle) {
        let error = StreamStatus.LastError(element: "src", message: "device lost", debug: nil, at: Self.wallSeconds)
        let actions = lifecycle.failed(run: id, error: error, now: now)
        trace.append((.failed(run: id, now: now), actions, nil))
        if live?.id == id && !shutDown {
            check(actions.first == .tearDown(run: id), "the failure of run \(id) did not tear it down first: \(actions)")
            check(lifecycle.lastError == error, "the failure was not recorded as the last error")
            check(lifecycle.publicState == (wanted ? .restarting : .error), "a failure while wanted: \(wanted) left the stream \(lifecycle.publicState)")
        } else {
            check(actions.isEmpty && lifecycle.state == before.state && lifecycle.lastError == before.lastError,
                  "a failure of run \(id), not the current one, acted: \(actions)")
        }
        checkAfter(actions, before: before, event: .failure)
    }

    mutating func fireTimer(choice: UInt8, before: StreamLifecycle) {
        let index: Int
        if choice & 0x80 == 0 && !pending.isEmpty {
            let slot = Int(choice) % pending.count
            index = pending[slot]
            pending.swapAt(slot, pending.count - 1)
            pending.removeLast()
        } else if !timers.isEmpty {
            index = Int(choice & 0x7F) % timers.count
            if !timers[index].fired { pending.removeAll { $0 == index } }
        } else {
            return
        }
        let again = timers[index].fired
        let timer = timers[index].timer
        timers[index].fired = true
        if timer == .tick {
            if again { tickFiredAgain = true } else { pendingTicks -= 1 }
        }
        now = max(now, timers[index].due)
        let actions = lifecycle.timerFired(timer, now: now, wallSeconds: Self.wallSeconds)
        trace.append((.timerFired(timer, now: now, again: again), actions, nil))
        if again, timer != .tick {
            check(actions.isEmpty, "\(timer) fired a second time and acted: \(actions)")
        }
        switch timer {
        case .restart:
            if !actions.isEmpty {
                // Nobody left to watch: no camera is opened, the next client starts it.
                let expected: [Action] = wanted
                    ? [.restartCounted, .entered(.starting), .startPipeline(run: newestRun + 1)]
                    : [.entered(.error), .waitingForClient]
                check(actions == expected, "a restart timer while wanted: \(wanted) did not just \(expected)")
                check(before.publicState == .restarting, "a restart timer acted while \(before.publicState)")
            }
        case .idleStop:
            if !actions.isEmpty {
                check(!wanted, "an idle stop while wanted (clients \(clients), alwaysOn \(settings.alwaysOn)): \(actions)")
                check(index == latestIdleStop, "\(timer) acted, but a newer idle stop was scheduled")
                let postponed = actions.count == 1 && actions[0].isIdleStopSchedule
                if before.publicState == .restarting, !postponed {
                    // Failed and nobody came back: the same end as the restart timer's.
                    check(actions == [.entered(.error), .waitingForClient], "an idle stop during the back-off did \(actions)")
                }
            }
        case .tick:
            break
        }
        checkAfter(actions, before: before, event: .timer(timer))
    }

    mutating func record(_ event: Event, _ actions: [Action], before: StreamLifecycle) {
        trace.append((event, actions, nil))
        switch event {
        case .shutdown: checkAfter(actions, before: before, event: .shutdown)
        default: checkAfter(actions, before: before, event: .reconcile)
        }
    }

    // MARK: - Checks

    enum Kind: Equatable {
        case reconcile, frame, failure, shutdown
        case timer(LifecycleTimer)
    }

    /// Goes through the actions in order, updating what the harness knows, then compares the state.
    mutating func checkAfter(_ actions: [Action], before: StreamLifecycle, event kind: Kind) {
        if shutDown {
            check(actions.isEmpty, "\(kind) after shutdown acted: \(actions)")
        }
        var entered: [StreamState] = []
        var restartSchedules: [Double] = []
        var restartAnnounced: [Double] = []
        var deliveredToViewers = false
        var stalled = false
        var tornDown = false
        for (position, action) in actions.enumerated() {
            switch action {
            case .startPipeline(let run):
                check(run > newestRun, "run \(run) started after run \(newestRun)")
                check(live == nil, "run \(run) started while run \(live!.id) was not torn down")
                check(position > 0 && actions[position - 1] == .entered(.starting), "run \(run) started without entering starting")
                check(wanted, "run \(run) started with no client and not always-on")
                newestRun = run
                live = LiveRun(id: run, startedAt: now, afterFailure: actions.contains(.restartCounted))
            case .tearDown(let run):
                check(live?.id == run, "tore down run \(run), but the live run is \(live.map { "\($0.id)" } ?? "none")")
                check(!tornDown, "two tear-downs in one event")
                tornDown = true
                if kind == .failure || (kind == .timer(.tick) && stalled) {
                    // A failure of a run that delivered frames for the longest delay resets the back-off.
                    if live!.published > 0, Double(now - live!.startedAt) / 1e9 >= settings.maximumRestartDelay {
                        expectedDelay = settings.minimumRestartDelay
                    }
                }
                live = nil
            case .schedule(let after, let timer):
                check(after.isFinite && after >= 0, "scheduled \(timer) after \(after) s")
                switch timer {
                case .tick:
                    check(after > 0 && after <= settings.repeatInterval, "a tick in \(after) s (repeat interval \(settings.repeatInterval))")
                case .restart(let id):
                    check(timerIDs.insert(id).inserted, "timer id \(id) was used twice")
                    check(after >= settings.minimumRestartDelay && after <= settings.maximumRestartDelay,
                          "a restart in \(after) s, outside [\(settings.minimumRestartDelay), \(settings.maximumRestartDelay)]")
                    check(after == expectedDelay, "a restart in \(after) s; the back-off says \(expectedDelay) s")
                    expectedDelay = min(expectedDelay * 2, settings.maximumRestartDelay)
                    restartSchedules.append(after)
                case .idleStop(let id):
                    check(timerIDs.insert(id).inserted, "timer id \(id) was used twice")
                    check(!wanted, "an idle stop was scheduled while wanted")
                    // At most one outstanding: churn must not pile timers up.
                    let outstanding = latestIdleStop.map { !timers[$0].fired } ?? false
                    check(!outstanding || kind.isIdleStop, "a second idle stop was scheduled while one is outstanding")
                    if kind.isIdleStop {
                        // The timer fired early (somebody came and left meanwhile): the rest of the idle time.
                        let idleFor = Double(now - (idleSince ?? now)) / 1e9
                        check(after > 0 && abs(after - (settings.idleTimeout - idleFor)) < 1e-6,
                              "an idle stop postponed by \(after) s after \(idleFor) s of \(settings.idleTimeout) idle")
                    } else {
                        check(after == settings.idleTimeout, "an idle stop in \(after) s, not \(settings.idleTimeout)")
                        check(before.clients > 0, "an idle stop was scheduled, but nobody was watching before")
                    }
                    latestIdleStop = timers.count
                }
                let due = now + UInt64((after * 1e9).rounded())
                pending.append(timers.count)
                if timer != .tick { timerIndex[timer] = timers.count }
                timers.append(ScheduledTimer(timer: timer, due: due))
                if timer == .tick { pendingTicks += 1 }
            case .showPlaceholder(let reason):
                check(clients > 0, "a \(reason) placeholder with no client")
                // STARTING only for a run started fresh; NO SIGNAL while down or restarting.
                switch reason {
                case .starting:
                    check(lifecycle.publicState == .starting && live?.afterFailure == false,
                          "a starting placeholder while \(lifecycle.publicState), run after a failure: \(String(describing: live?.afterFailure))")
                case .noSignal:
                    check(lifecycle.publicState != .playing && (lifecycle.publicState != .starting || live?.afterFailure == true),
                          "a no-signal placeholder while \(lifecycle.publicState), run after a failure: \(String(describing: live?.afterFailure))")
                }
                deliveredToViewers = true
            case .repeatLatest:
                check(clients > 0, "repeated the latest frame with no client")
                check(lifecycle.publicState == .playing, "repeated the latest frame while \(lifecycle.publicState)")
                deliveredToViewers = true
            case .entered(let state):
                entered.append(state)
            case .restartCounted:
                restartsCounted += 1
                check(actions.contains { if case .startPipeline = $0 { true } else { false } }, "a restart was counted without a start")
            case .restartScheduled(let after):
                restartAnnounced.append(after)
            case .waitingForClient:
                check(!wanted && lifecycle.publicState == .error, "waiting for a client while wanted or \(lifecycle.publicState)")
            case .stoppedIdle:
                check(kind.isIdleStop, "stopped idle on \(kind)")
                let idleFor = Double(now - (idleSince ?? now)) / 1e9
                check(idleSince != nil && idleFor >= settings.idleTimeout, "stopped after \(idleFor) s idle, not \(settings.idleTimeout)")
                check(!wanted, "an idle stop while wanted (clients \(clients), alwaysOn \(settings.alwaysOn))")
                lastDelivery = nil
            case .stalled(let seconds):
                check(kind == .timer(.tick), "stalled on \(kind)")
                check(seconds == settings.frameTimeout, "stalled after \(seconds) s, not \(settings.frameTimeout)")
                if let run = live {
                    let since = max(run.startedAt, run.lastFrameAt ?? 0)
                    check(Double(now - since) / 1e9 >= settings.frameTimeout, "stalled \(Double(now - since) / 1e9) s after the last frame")
                } else {
                    check(false, "stalled with no run")
                }
                stalled = true
                check(actions.contains(.entered(wanted ? .restarting : .error)), "a stall while wanted: \(wanted) did not enter \(wanted ? "restarting" : "error")")
            case .finish:
                check(kind == .shutdown && !finished, "finished on \(kind), finished before: \(finished)")
                finished = true
            }
        }
        if deliveredToViewers {
            // The failure's immediate placeholder is not bound by the interval; a tick's is.
            if kind == .timer(.tick) && !stalled, let last = lastDelivery {
                check(Double(now - last) / 1e9 >= settings.repeatInterval,
                      "sent to viewers \(Double(now - last) / 1e9) s after the last delivery (interval \(settings.repeatInterval))")
            }
            lastDelivery = now
        } else if kind == .timer(.tick), clients > 0, !shutDown {
            // A tick with viewers leaves them at most one interval without anything.
            let quiet = lastDelivery.map { Double(now - $0) / 1e9 } ?? .infinity
            check(quiet < settings.repeatInterval, "a tick left viewers \(quiet) s without a frame or placeholder")
        }
        check(restartSchedules == restartAnnounced, "restart schedules \(restartSchedules) announced as \(restartAnnounced)")
        check(lifecycle.lastError == before.lastError || kind == .failure || stalled, "the last error changed on \(kind)")
        if actions.contains(.stoppedIdle) {
            check(lifecycle.state == .idle, "stopped idle into \(lifecycle.state)")
        }
        if kind == .shutdown {
            if !shutDown {
                check(actions.last == .finish, "the first shutdown did not finish: \(actions)")
            }
            shutDown = true
            check(live == nil, "run \(live?.id ?? 0) outlived shutdown")
        }
        checkState(before: before, entered: entered, kind: kind)
    }

    func checkState(before: StreamLifecycle, entered: [StreamState], kind: Kind) {
        let state = lifecycle.state
        let expected: StreamState = switch state {
        case .idle, .stopped: .idle
        case .starting: .starting
        case .playing: .playing
        case .restarting: .restarting
        case .failed: .error
        }
        check(lifecycle.publicState == expected, "public state \(lifecycle.publicState) for \(state)")
        check(entered.count <= 1, "entered \(entered) in one event")
        if let last = entered.last {
            check(last == lifecycle.publicState, "entered \(last), but the state is \(lifecycle.publicState)")
            check(kind == .shutdown || last != before.publicState, "entered \(last) again")
        } else {
            check(lifecycle.publicState == before.publicState, "\(before.publicState) became \(lifecycle.publicState) without .entered")
        }
        check(shutDown == (state == .stopped), "shut down: \(shutDown), state \(state)")

        // The run: exactly in starting and playing, and the one the harness saw start.
        let isRunning = switch state {
        case .starting, .playing: true
        default: false
        }
        check((lifecycle.currentRun != nil) == isRunning, "currentRun \(String(describing: lifecycle.currentRun)) while \(state)")
        check(lifecycle.currentRun?.id == live?.id, "currentRun \(String(describing: lifecycle.currentRun?.id)), live run \(String(describing: live?.id))")
        if let run = lifecycle.currentRun, let live {
            check(run.startedAt == live.startedAt && run.frames == live.frames && run.lastFrameAt == live.lastFrameAt,
                  "run \(run) differs from what was seen: \(live)")
            if case .playing = state {
                check(live.published > 0, "playing before a published frame")
            } else {
                check(live.published == 0, "starting after a published frame")
            }
        }

        // Counters.
        check(lifecycle.framesPublished == published, "framesPublished \(lifecycle.framesPublished), published \(published)")
        check(lifecycle.restarts >= before.restarts, "restarts went from \(before.restarts) to \(lifecycle.restarts)")
        check(lifecycle.restarts == restartsCounted, "restarts \(lifecycle.restarts), counted \(restartsCounted)")
        check(lifecycle.clients == clients, "clients \(lifecycle.clients), expected \(clients)")
        check(lifecycle.restartDelay == expectedDelay, "next restart delay \(lifecycle.restartDelay), the back-off says \(expectedDelay)")

        // Wanted streams run (once clients or begin brought the lifecycle in line).
        if reconciled && wanted && !shutDown {
            switch state {
            case .starting, .playing, .restarting: break
            case .idle, .failed, .stopped: check(false, "wanted (clients \(clients), alwaysOn \(settings.alwaysOn)) but \(state)")
            }
        }
        if case .restarting(let backoff) = state {
            check(timerIndex[backoff.timer].map { !timers[$0].fired } ?? false, "restarting on \(backoff.timer), which was not scheduled or already fired")
        }

        // Ticks: a chain while wanted or running, and never two (unless the harness fired one twice).
        if !tickFiredAgain {
            check(pendingTicks <= 1, "\(pendingTicks) ticks pending")
        }
        if !shutDown && ((reconciled && wanted) || lifecycle.currentRun != nil) {
            let idleStopPending = latestIdleStop.map { !timers[$0].fired } ?? false
            check(pendingTicks >= 1 || (!wanted && idleStopPending),
                  "no tick pending (nor an idle stop) while wanted \(wanted) with run \(String(describing: lifecycle.currentRun?.id))")
        }

        // A tick leaves no stalled run running.
        if kind == .timer(.tick), let run = lifecycle.currentRun {
            let since = max(run.startedAt, run.lastFrameAt ?? 0)
            check(Double(now - since) / 1e9 < settings.frameTimeout, "a tick left run \(run.id) running \(Double(now - since) / 1e9) s without a frame")
        }
    }
}

extension LifecycleModel.Kind {
    fileprivate var isIdleStop: Bool {
        if case .timer(.idleStop) = self { true } else { false }
    }
}

extension StreamLifecycle.Action {
    fileprivate var isIdleStopSchedule: Bool {
        if case .schedule(_, .idleStop) = self { true } else { false }
    }
}

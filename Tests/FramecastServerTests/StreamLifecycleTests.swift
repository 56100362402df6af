@testable import FramecastServer
import Testing

private typealias Action = StreamLifecycle.Action
private typealias LifecycleTimer = StreamLifecycle.Timer

/// A lifecycle and the clock it is fed: time moves only when a test advances it.
private struct Harness {
    var lifecycle: StreamLifecycle
    /// Nanoseconds, as the supervisor passes them.
    var now: UInt64 = 1_000_000_000
    static let wallSeconds = 1_700_000_000.0

    init(_ configure: (inout StreamSettings) -> Void = { _ in }) {
        var settings = StreamSettings()
        configure(&settings)
        lifecycle = StreamLifecycle(settings: settings)
    }

    var state: StreamState { lifecycle.publicState }
    var run: UInt64? { lifecycle.currentRun?.id }

    mutating func advance(_ seconds: Double) { now += UInt64((seconds * 1e9).rounded()) }
    @discardableResult mutating func begin() -> [Action] { lifecycle.begin(now: now) }
    @discardableResult mutating func clients(_ count: Int) -> [Action] { lifecycle.clientsChanged(to: count, now: now) }
    @discardableResult mutating func tick() -> [Action] { fire(.tick) }
    @discardableResult mutating func shutdown() -> [Action] { lifecycle.shutdown() }
    @discardableResult mutating func fire(_ timer: LifecycleTimer) -> [Action] {
        lifecycle.timerFired(timer, now: now, wallSeconds: Self.wallSeconds)
    }
    /// A frame from `run`, by default the current one.
    @discardableResult mutating func frame(run id: UInt64? = nil) -> StreamLifecycle.FrameVerdict {
        lifecycle.frame(run: id ?? run ?? 0, now: now).0
    }
    mutating func frames(_ count: Int) -> [StreamLifecycle.FrameVerdict] { (0..<count).map { _ in frame() } }
    /// A bus error from `run`, by default the current one.
    @discardableResult mutating func fail(run id: UInt64? = nil) -> [Action] {
        let error = StreamStatus.LastError(element: "v4l2src0", message: "device lost", debug: nil, at: Self.wallSeconds)
        return lifecycle.failed(run: id ?? run ?? 0, error: error, now: now)
    }
    /// One client arrives and the run's first frame is published; returns the run.
    @discardableResult mutating func startPlaying() -> UInt64 { clients(1); frame(); return run ?? 0 }
    /// Fails the current run and lets its back-off timer fire; returns the delay it waited.
    @discardableResult mutating func failAndRestart() -> Double {
        guard let (delay, timer) = fail().restart else {
            Issue.record("no restart scheduled")
            return 0
        }
        advance(delay)
        fire(timer)
        return delay
    }
}

extension Array where Element == StreamLifecycle.Action {
    fileprivate var scheduled: [(after: Double, timer: LifecycleTimer)] {
        compactMap { if case .schedule(let after, let timer) = $0 { (after, timer) } else { nil } }
    }
    fileprivate var restart: (after: Double, timer: LifecycleTimer)? {
        scheduled.first { if case .restart = $0.timer { true } else { false } }
    }
    fileprivate var idleStop: LifecycleTimer? {
        scheduled.first { if case .idleStop = $0.timer { true } else { false } }?.timer
    }
    fileprivate var schedulesTick: Bool { scheduled.contains { $0.timer == .tick } }
}

struct StreamLifecycleTests {
    @Test(arguments: [(1.0, 30.0, [1.0, 2, 4, 8, 16, 30, 30]), (0.5, 3.0, [0.5, 1, 2, 3, 3])])
    func backOffDoublesPerFailureUpToTheMaximum(minimum: Double, maximum: Double, expected: [Double]) throws {
        var h = Harness { $0.minimumRestartDelay = minimum; $0.maximumRestartDelay = maximum }
        h.clients(1)
        var delays: [Double] = []
        for _ in expected {
            let actions = h.fail()
            let (delay, timer) = try #require(actions.restart)
            #expect(actions.contains(.restartScheduled(after: delay)))
            delays.append(delay)
            h.advance(delay)
            #expect(h.fire(timer).prefix(2) == [.restartCounted, .entered(.starting)])
        }
        #expect(delays == expected)
        #expect(h.lifecycle.restarts == expected.count)
    }

    /// Three quick failures raise the delay to 8 s; then a run lasts `lasted` seconds and fails.
    @Test(arguments: [(29.9, 8.0), (30.0, 1.0), (600.0, 1.0)])
    func backOffReturnsToTheMinimumAfterAHealthyRun(lasted: Double, nextDelay: Double) {
        var h = Harness()
        h.clients(1)
        #expect([h.failAndRestart(), h.failAndRestart(), h.failAndRestart()] == [1, 2, 4])
        h.frame()
        h.advance(lasted)
        #expect(h.fail().restart?.after == nextDelay)
    }

    /// A run that never delivered a frame was not healthy, however long it took to fail (a frame
    /// timeout longer than the longest delay).
    @Test func aLongRunWithoutFramesDoesNotResetTheBackOff() {
        var h = Harness { $0.frameTimeout = 60 }
        h.clients(1)
        #expect([h.failAndRestart(), h.failAndRestart(), h.failAndRestart()] == [1, 2, 4])
        h.advance(45)
        #expect(h.fail().restart?.after == 8)
    }

    @Test func idleStopIsScheduledWhenTheLastClientLeaves() throws {
        var h = Harness { $0.idleTimeout = 7 }
        h.clients(2)
        h.frame()
        let run = try #require(h.run)
        #expect(h.clients(1).idleStop == nil)
        let leave = h.clients(0)
        let timer = try #require(leave.idleStop)
        #expect(leave.scheduled.map(\.after) == [7])
        #expect(h.state == .playing)
        h.advance(7)
        #expect(h.fire(timer) == [.tearDown(run: run), .entered(.idle), .stoppedIdle])
        #expect(h.state == .idle && h.run == nil)
        // The next client starts a fresh run; that is not a restart.
        #expect(h.clients(1).contains(.startPipeline(run: run + 1)))
        #expect(h.lifecycle.restarts == 0)
    }

    /// Timers cannot be cancelled: a client that returns and leaves again reuses the one idle
    /// stop outstanding, which waits out the rest of the idle time when it fires.
    @Test func aReturningClientPostponesTheIdleStopWithoutASecondTimer() throws {
        var h = Harness()
        h.startPlaying()
        let timer = try #require(h.clients(0).idleStop)
        h.advance(3)
        #expect(h.clients(1).scheduled.isEmpty)
        #expect(h.clients(0).scheduled.isEmpty, "the outstanding timer is reused")
        h.advance(7)
        let postponed = h.fire(timer)
        #expect(postponed.scheduled.map(\.after) == [3], "idle for 7 of 10 s")
        #expect(h.state == .playing)
        h.advance(3)
        #expect(h.fire(try #require(postponed.idleStop)).contains(.stoppedIdle))
        #expect(h.state == .idle)
    }

    @Test func anIdleStopFiringWhileAClientIsBackDoesNothingAndTheNextLeaveSchedulesAnew() throws {
        var h = Harness()
        h.startPlaying()
        let first = try #require(h.clients(0).idleStop)
        h.clients(1)
        h.advance(10)
        #expect(h.fire(first) == [], "a client is back: the stream is wanted")
        #expect(h.fire(first) == [], "fired twice")
        let second = try #require(h.clients(0).idleStop)
        #expect(second != first)
        h.advance(10)
        #expect(h.fire(second).contains(.stoppedIdle))
    }

    /// A hostile client toggling its want of a stream thousands of times schedules one timer.
    @Test func clientChurnSchedulesOneIdleStop() {
        var h = Harness()
        h.startPlaying()
        var idleStops = 0
        for _ in 0..<5000 {
            h.advance(0.001)
            idleStops += h.clients(0).idleStop == nil ? 0 : 1
            idleStops += h.clients(1).idleStop == nil ? 0 : 1
        }
        #expect(idleStops == 1)
    }

    @Test(arguments: [(5.0, "no frame for 5 s"), (2.5, "no frame for 2.5 s")])
    func runWithoutFramesForFrameTimeoutFailsAndRestarts(timeout: Double, message: String) {
        var h = Harness { $0.frameTimeout = timeout }
        let run = h.startPlaying()
        for _ in 0..<4 {  // Frames keep it alive well past one timeout.
            h.advance(timeout / 2)
            h.frame()
            #expect(!h.tick().contains(.stalled(seconds: timeout)))
        }
        h.advance(timeout - 0.25)
        #expect(!h.tick().contains(.stalled(seconds: timeout)))
        #expect(h.state == .playing)
        h.advance(0.25)
        let actions = h.tick()
        #expect(Array(actions.prefix(3)) == [.stalled(seconds: timeout), .tearDown(run: run), .entered(.restarting)])
        #expect(actions.contains(.showPlaceholder(.noSignal)) && actions.schedulesTick)
        #expect(actions.restart?.after == 1)
        #expect(h.state == .restarting)
        #expect(h.lifecycle.lastError == StreamStatus.LastError(element: nil, message: message, debug: nil, at: Harness.wallSeconds))
    }

    @Test func runThatNeverDeliversStallsCountingFromItsStart() {
        var h = Harness()
        h.clients(1)
        h.advance(5)
        #expect(h.tick().first == .stalled(seconds: 5))
        #expect(h.state == .restarting)
    }

    @Test func warmUpFramesOfEveryRunAreDropped() {
        var h = Harness { $0.warmupFrames = 3 }
        h.clients(1)
        #expect(h.frames(3) == [.drop, .drop, .drop])
        #expect(h.state == .starting && h.lifecycle.framesPublished == 0)
        let (verdict, actions) = h.lifecycle.frame(run: h.run ?? 0, now: h.now)
        #expect(verdict == .publish(sequence: 1, first: true))
        #expect(actions == [.entered(.playing)])
        #expect(h.state == .playing)
        #expect(h.frame() == .publish(sequence: 2, first: false))
        h.failAndRestart()
        #expect(h.frames(5) == [.drop, .drop, .drop, .publish(sequence: 3, first: true), .publish(sequence: 4, first: false)])
        #expect(h.state == .playing)
    }

    @Test func shutdownWhileStartingFinishesAndIgnoresEverythingAfter() throws {
        var h = Harness()
        h.clients(1)
        let run = try #require(h.run)
        #expect(h.shutdown() == [.tearDown(run: run), .entered(.idle), .finish])
        #expect(h.state == .idle && h.run == nil)
        h.advance(60)
        #expect(h.frame(run: run) == .drop)
        #expect(h.fail(run: run) == [])
        for timer: LifecycleTimer in [.tick, .restart(1), .idleStop(1), .idleStop(2)] {
            #expect(h.fire(timer) == [])
        }
        #expect(h.clients(0) + h.clients(3) + h.begin() + h.shutdown() == [])
        #expect(h.state == .idle)
    }

    @Test func failureWithViewersRestartsBehindANoSignalPlaceholder() {
        var h = Harness()
        let run = h.startPlaying()
        let timer = LifecycleTimer.restart(1)
        #expect(h.fail() == [
            .tearDown(run: run), .entered(.restarting), .restartScheduled(after: 1),
            .schedule(after: 1, timer: timer), .showPlaceholder(.noSignal),
        ])
        #expect(h.state == .restarting)
        #expect(h.lifecycle.lastError?.message == "device lost")
        h.advance(1)
        #expect(h.fire(timer) == [.restartCounted, .entered(.starting), .startPipeline(run: run + 1)])
        #expect(h.lifecycle.restarts == 1)
    }

    @Test func failureWithoutViewersWaitsForTheNextClient() throws {
        var h = Harness()
        let run = h.startPlaying()
        let idleStop = try #require(h.clients(0).idleStop)
        h.advance(2)
        #expect(h.fail() == [.tearDown(run: run), .entered(.error), .waitingForClient])
        #expect(h.state == .error && h.lifecycle.lastError?.message == "device lost")
        h.advance(8)
        #expect(h.fire(idleStop) == [])
        #expect(h.state == .error)
        let actions = h.clients(1)
        #expect(actions.contains(.restartCounted) && actions.contains(.startPipeline(run: run + 1)))
        #expect(h.state == .starting && h.lifecycle.restarts == 1)
    }

    @Test func alwaysOnRunsWithNoClientAndNeverStopsIdle() throws {
        var h = Harness { $0.alwaysOn = true }
        #expect(h.begin() == [.schedule(after: 1, timer: .tick), .entered(.starting), .startPipeline(run: 1)])
        h.frame()
        #expect(h.clients(1) == [])
        #expect(h.clients(0) == [], "no idle stop")
        let actions = h.fail()
        let restart = try #require(actions.restart)
        #expect(!actions.contains(.showPlaceholder(.noSignal)), "nobody to show it to")
        #expect(h.state == .restarting)
        h.advance(1)
        #expect(h.tick() == [.schedule(after: 1, timer: .tick)], "still ticking, no placeholder")
        h.fire(restart.timer)
        h.clients(1)
        #expect(h.fail().contains(.showPlaceholder(.noSignal)))
    }

    @Test func framesAndFailuresFromAnOlderRunAreIgnored() {
        var h = Harness()
        let old = h.startPlaying()
        h.failAndRestart()
        #expect(h.run == old + 1)
        #expect(h.frame(run: old) == .drop)
        #expect(h.fail(run: old) == [])
        #expect(h.state == .starting)
        #expect(h.frame() == .publish(sequence: 2, first: true))
    }

    /// Whichever comes first after everyone left during a back-off, the idle stop or the restart
    /// timer, the stream ends failed and the other timer does nothing.
    @Test func restartTimerFiringAfterTheIdleStopEndedTheBackOffIsIgnored() throws {
        var h = Harness { $0.idleTimeout = 2; $0.minimumRestartDelay = 5 }
        h.startPlaying()
        let restart = try #require(h.fail().restart).timer
        let idleStop = try #require(h.clients(0).idleStop)
        h.advance(2)
        #expect(h.fire(idleStop) == [.entered(.error), .waitingForClient])
        h.advance(3)
        #expect(h.fire(restart) == [])
        #expect(h.state == .error && h.lifecycle.restarts == 0)
        // Nor does it act on the back-off of a later run.
        h.clients(1)
        #expect(h.fail().restart?.timer != restart)
        #expect(h.fire(restart) == [])
        #expect(h.state == .restarting)
    }

    /// `restarted`: a run started by the back-off timer, no frame yet (the camera is still down).
    enum Phase: CaseIterable { case playing, starting, restarting, restarted }

    @Test(arguments: Phase.allCases)
    func tickShowsViewersWhatTheStreamHas(phase: Phase) {
        var h = Harness()
        h.clients(1)
        switch phase {
        case .playing: h.frame()
        case .starting: break
        case .restarting: h.fail()
        case .restarted: h.failAndRestart()
        }
        h.advance(1)
        let expected: Action = switch phase {
        case .playing: .repeatLatest
        case .starting: .showPlaceholder(.starting)
        case .restarting, .restarted: .showPlaceholder(.noSignal)
        }
        #expect(h.tick() == [expected, .schedule(after: 1, timer: .tick)])
    }

    @Test func tickWaitsOutTheRestOfTheIntervalAfterARecentFrame() {
        var h = Harness { $0.repeatInterval = 2 }
        h.startPlaying()
        h.advance(0.5)
        #expect(h.tick() == [.schedule(after: 1.5, timer: .tick)])
    }

    @Test func tickingStopsOnceNobodyWatchesAndNoPipelineRuns() throws {
        var h = Harness()
        #expect(h.clients(1).schedulesTick)
        h.frame()
        let idleStop = try #require(h.clients(0).idleStop)
        h.advance(1)
        #expect(h.tick() == [.schedule(after: 1, timer: .tick)], "a pipeline still runs")
        h.advance(9)
        h.fire(idleStop)
        #expect(h.state == .idle)
        #expect(h.tick() == [])
        // Ticking stopped, so the next client starts it again; a running chain is not doubled.
        #expect(h.clients(1).schedulesTick)
        #expect(!h.clients(2).schedulesTick)
    }

    @Test func publicStateFollowsTheLifecycle() throws {
        var h = Harness()
        var seen: [StreamState] = [h.state]
        h.clients(1); seen.append(h.state)
        h.frame(); seen.append(h.state)
        h.fail(); seen.append(h.state)
        h.advance(1); h.fire(.restart(1)); seen.append(h.state)
        let idleStop = try #require(h.clients(0).idleStop)
        h.fail(); seen.append(h.state)
        h.fire(idleStop); seen.append(h.state)
        h.clients(1); h.shutdown(); seen.append(h.state)
        #expect(seen == [.idle, .starting, .playing, .restarting, .starting, .error, .error, .idle])
    }

    @Test func countersAndSequenceNumbersOnlyGrow() {
        var h = Harness()
        h.clients(1)
        var sequences: [UInt64] = []
        for _ in 0..<3 {
            for case .publish(let sequence, _) in h.frames(4) { sequences.append(sequence) }
            h.failAndRestart()
        }
        #expect(sequences == Array(1...12))
        #expect(h.lifecycle.framesPublished == 12)
        #expect(h.lifecycle.restarts == 3)
    }

    // MARK: - Decided after review

    /// A fresh start says STARTING even when an earlier run once failed; a start after a failure
    /// says NO SIGNAL.
    @Test func aFreshStartAfterAnOldRecoveredFailureSaysStarting() {
        var h = Harness { $0.idleTimeout = 1 }
        h.startPlaying()
        h.failAndRestart()
        h.frame()
        let stop = h.clients(0).idleStop
        h.advance(1)
        if let stop { h.fire(stop) }
        #expect(h.state == .idle)
        h.clients(1)
        h.advance(1)
        #expect(h.tick().contains(.showPlaceholder(.starting)))
    }

    /// Warm-up frames show the source is alive: a long warm-up never counts as a stall.
    @Test func warmUpFramesKeepTheRunAliveForStallDetection() {
        var h = Harness { $0.warmupFrames = 30; $0.frameTimeout = 5 }
        h.clients(1)
        for _ in 0..<29 {
            h.advance(0.2)
            #expect(h.frame() == .drop)
            let actions = h.tick()
            #expect(!actions.contains { if case .stalled = $0 { true } else { false } })
        }
        h.advance(0.2)
        #expect(h.frame() == .drop)
        h.advance(0.2)
        #expect(h.frame() == .publish(sequence: 1, first: true))
    }

    /// Everyone left during the back-off: the restart timer opens no camera for nobody.
    @Test func aRestartDueAfterEveryoneLeftStartsNothing() throws {
        var h = Harness { $0.idleTimeout = 60 }
        h.startPlaying()
        let (delay, timer) = try #require(h.fail().restart)
        h.clients(0)
        h.advance(delay)
        let actions = h.fire(timer)
        #expect(!actions.contains { if case .startPipeline = $0 { true } else { false } })
        #expect(h.state == .error)
        #expect(h.lifecycle.restarts == 0)
        // The next client starts it, counted as a restart.
        #expect(h.clients(1).contains(.restartCounted))
        #expect(h.state == .starting)
    }

    /// A reload that changes the pipeline: a running stream switches at once, its viewers shown
    /// NO SIGNAL meanwhile; one nobody runs is left for its next client; one waiting out a
    /// back-off starts now.
    @Test func aReplacedPipelineRestartsARunningStreamAtOnceAndNothingElse() throws {
        var h = Harness()
        h.begin()
        #expect(h.lifecycle.pipelineReplaced(now: h.now).isEmpty, "an idle stream starts the new pipeline with its next client")
        h.clients(1)
        let run = try #require(h.run)
        _ = h.frames(3)
        #expect(h.state == .playing)
        let actions = h.lifecycle.pipelineReplaced(now: h.now)
        #expect(actions == [.tearDown(run: run), .entered(.starting), .startPipeline(run: run + 1), .showPlaceholder(.noSignal)])
        #expect(h.lifecycle.restarts == 0, "a reload is no failure")
        #expect(h.frame(run: run) == .drop, "the old pipeline's frames are refused")
        #expect(h.frame() != .drop)

        h.fail()
        #expect(h.state == .restarting)
        let restarted = h.lifecycle.pipelineReplaced(now: h.now)
        #expect(restarted.contains(.startPipeline(run: run + 2)))
        #expect(h.state == .starting)

        h.shutdown()
        #expect(h.lifecycle.pipelineReplaced(now: h.now).isEmpty)
    }
}

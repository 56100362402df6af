import NIOCore

/// A snapshot waiting for a frame captured at or after an instant: a consumer of the stream's hub
/// on the request's event loop, for at most a timeout. It gives up early when the run it waited
/// on ends (the pipeline failed: waiting longer would only delay the error). Used only on its loop.
final class SnapshotWaiter: FrameConsumer {
    private let hub: FrameHub
    private let oldestAccepted: WallClock.Instant
    private let eventLoop: any EventLoop
    private let result: EventLoopPromise<Frame?>
    private var timer: Scheduled<Void>?
    private var joined = false
    /// The run current when it joined: the end of an older run (announced late) is not its end.
    private var run: UInt64?
    private var done = false

    /// The first real frame captured at or after `oldestAccepted` (the newest frame counts if it
    /// is recent enough), or nil after `timeout` seconds, when the run ends, or when the task is
    /// cancelled (the client left: its lease goes at once).
    static func frame(from hub: FrameHub, capturedAfter oldestAccepted: WallClock.Instant, timeout: Double, on eventLoop: any EventLoop) async -> Frame? {
        let result = eventLoop.makePromise(of: Frame?.self)
        let waiting = NIOLoopBoundBox.makeEmptyBox(valueType: SnapshotWaiter.self, eventLoop: eventLoop)
        eventLoop.execute {
            let waiter = SnapshotWaiter(hub: hub, oldestAccepted: oldestAccepted, eventLoop: eventLoop, result: result)
            waiting.value = waiter
            waiter.start(timeout: .nanoseconds(timeout.saturatingNanoseconds))
        }
        return await withTaskCancellationHandler {
            (try? await result.futureResult.get()) ?? nil
        } onCancel: {
            eventLoop.execute {
                waiting.value?.finish(nil)
                waiting.value = nil
            }
        }
    }

    private init(hub: FrameHub, oldestAccepted: WallClock.Instant, eventLoop: any EventLoop, result: EventLoopPromise<Frame?>) {
        self.hub = hub
        self.oldestAccepted = oldestAccepted
        self.eventLoop = eventLoop
        self.result = result
    }

    private func start(timeout: TimeAmount) {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        // The scheduled task holds the waiter until it answers.
        timer = eventLoop.scheduleTask(in: timeout) { bound.value.finish(nil) }
        // Nil when the hub has finished: `hubFinished` has answered already.
        guard let joined = hub.attach(self, on: eventLoop) else { return }
        self.joined = true
        run = joined.run
        if let latest = joined.latest { _ = offer(latest) }
    }

    func offer(_ publication: LoopPublication) -> Bool {
        let frame = publication.frame
        if !frame.isPlaceholder, frame.capturedAt >= oldestAccepted { finish(frame) }
        return false
    }

    func runEnded(_ ended: UInt64) {
        if run == nil || run == ended { finish(nil) }
    }

    func hubFinished() { finish(nil) }

    private func finish(_ frame: Frame?) {
        guard !done else { return }
        done = true
        timer?.cancel()
        timer = nil
        if joined {
            joined = false
            hub.detach(self, on: eventLoop)
        }
        result.succeed(frame)
    }
}

import CoreMetrics

/// One stream's consumers on one event loop. Used only on that loop.
final class LoopFanOut {
    private let metrics: StreamMetrics
    private var consumers: [any FrameConsumer] = []
    private var finished = false
    /// What this loop's consumers sent since it was last added to the stream's counters.
    let tally = SendTally()
    /// The newest publication this loop has seen, as its consumers receive it.
    private var newest: LoopPublication?
    /// The hub forgot its newest frame (a run began or ended) when its order stood here: nothing
    /// up to it is kept as `newest`, however late it reaches this loop.
    private var forgottenThrough: UInt64 = 0

    init(metrics: StreamMetrics) {
        self.metrics = metrics
    }

    func add(_ consumer: any FrameConsumer) {
        guard !finished else {
            consumer.hubFinished()
            return
        }
        consumers.append(consumer)
    }

    func remove(_ consumer: any FrameConsumer) {
        flushTally()
        if let index = consumers.firstIndex(where: { $0 === consumer }) {
            consumers.swapAt(index, consumers.count - 1)
            consumers.removeLast()
        }
        // Nobody left to share it with: let the frame (and its memory file) go.
        if consumers.isEmpty { newest = nil }
    }

    /// `publication` as this loop's consumers receive it: the one they share when it is the newest.
    func local(_ publication: Publication) -> LoopPublication {
        if let newest, newest.order == publication.order { return newest }
        let made = LoopPublication(publication)
        if publication.order > max(newest?.order ?? 0, forgottenThrough) { newest = made }
        return made
    }

    func deliver(_ publication: Publication) {
        flushTally()
        guard !finished, !consumers.isEmpty else { return }
        let publication = local(publication)
        var skipped = 0
        // Over a copy: a consumer may leave during its offer (a failed write).
        for consumer in consumers where consumer.offer(publication) {
            skipped += 1
        }
        if skipped > 0 { metrics.framesSkipped.increment(by: skipped) }
    }

    /// The hub forgot its newest frame when its order stood at `order`: so does this loop (the
    /// frame, and its memory file, are let go).
    func forget(through order: UInt64) {
        forgottenThrough = max(forgottenThrough, order)
        if let newest, newest.order <= forgottenThrough { self.newest = nil }
    }

    /// Run `run` ended, the hub's order standing at `order`.
    func runEnded(_ run: UInt64, forgettingThrough order: UInt64) {
        forget(through: order)
        for consumer in consumers { consumer.runEnded(run) }
    }

    func finish() {
        flushTally()
        finished = true
        newest = nil
        let ending = consumers
        consumers.removeAll()
        for consumer in ending { consumer.hubFinished() }
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
}

/// Frames and bytes sent by one event loop's consumers of a stream, not yet counted.
final class SendTally {
    var frames = 0
    var bytes = 0
}

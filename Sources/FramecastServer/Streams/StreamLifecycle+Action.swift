/// What the lifecycle asks of its supervisor.
extension StreamLifecycle {
    enum PlaceholderReason: Equatable {
        /// Started, no frame yet.
        case starting
        /// Down: failed, restarting or stalled.
        case noSignal
    }

    enum Action: Equatable {
        case startPipeline(run: UInt64)
        /// Stop the run's pipeline and forget its frames (they are stale for whoever comes next).
        case tearDown(run: UInt64)
        case schedule(after: Double, timer: Timer)
        case showPlaceholder(PlaceholderReason)
        /// Send the newest frame again (a still scene keeps painting; proxies keep the connection).
        case repeatLatest
        /// For the supervisor to log and count; nothing to carry out.
        case entered(StreamState)
        case restartCounted
        case restartScheduled(after: Double)
        case waitingForClient
        case stoppedIdle
        case stalled(seconds: Double)
        /// Everything ends: the hub finishes.
        case finish
    }

    /// What becomes of a frame the pipeline delivered.
    enum FrameVerdict: Equatable {
        /// From an older run, after shutdown, or a warm-up frame: never served.
        case drop
        /// Publish it with this sequence number; `first` is the run's first published frame.
        case publish(sequence: UInt64, first: Bool)
    }
}

import CoreMetrics
import Synchronization

/// One `/ws` connection's wants and mailbox: for each stream it asked for, the newest frame not yet
/// sent. A stream's new frame replaces an unsent one (the client skips it), so a connection never
/// holds more than one frame per stream, however far behind it falls.
final class WallSession: Sendable {
    private struct Subscription {
        let task: Task<Void, Never>
        let lease: ClientLease
    }

    private struct State {
        var pending: [String: (frame: Frame, stream: StreamSupervisor)] = [:]
        var subscriptions: [String: Subscription] = [:]
        var closed = false
        /// A valid subscription arrived (even an empty one).
        var subscribed = false
    }

    private let catalog: StreamCatalog
    private let state = Mutex(State())
    private let wake: AsyncStream<Void>.Continuation
    /// Yields when at least one frame waits to be sent.
    let wakeups: AsyncStream<Void>

    init(catalog: StreamCatalog) {
        self.catalog = catalog
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Whether the client has sent a valid subscription yet.
    var hasSubscribed: Bool { state.withLock { $0.subscribed } }

    /// Replaces the set of wanted streams; unknown names are returned (and ignored).
    func want(_ names: Set<String>) -> [String] {
        let unknown = names.filter { catalog.named($0) == nil }.sorted()
        let wanted = names.subtracting(unknown)
        let (stopped, toStart) = state.withLock { state -> ([Subscription], [String]) in
            guard !state.closed else { return ([], []) }
            state.subscribed = true
            let stopping = state.subscriptions.keys.filter { !wanted.contains($0) }
            let stopped = stopping.compactMap { state.subscriptions.removeValue(forKey: $0) }
            for name in stopping { state.pending[name] = nil }
            return (stopped, wanted.filter { state.subscriptions[$0] == nil }.sorted())
        }
        for subscription in stopped { end(subscription) }
        for name in toStart {
            guard let stream = catalog.named(name) else { continue }
            let lease = stream.acquireClient()
            let frames = stream.hub.subscribe()
            let task = Task { [weak self] in
                for await frame in frames {
                    guard let self else { return }
                    self.deposit(frame, from: stream)
                }
            }
            let accepted = state.withLock { state -> Bool in
                guard !state.closed, state.subscriptions[name] == nil else { return false }
                state.subscriptions[name] = Subscription(task: task, lease: lease)
                return true
            }
            if !accepted { end(Subscription(task: task, lease: lease)) }
        }
        return unknown
    }

    private func deposit(_ frame: Frame, from stream: StreamSupervisor) {
        let replaced = state.withLock { state -> Bool in
            guard !state.closed, state.subscriptions[stream.name] != nil else { return false }
            let replaced = state.pending[stream.name] != nil
            state.pending[stream.name] = (frame, stream)
            return replaced
        }
        if replaced { stream.metrics.framesSkipped.increment() }
        wake.yield()
    }

    /// Takes every waiting frame (at most one per stream).
    func takePending() -> [(frame: Frame, stream: StreamSupervisor)] {
        state.withLock { state in
            defer { state.pending.removeAll(keepingCapacity: true) }
            return Array(state.pending.values)
        }
    }

    /// Ends every subscription and the wake-ups.
    func close() {
        let subscriptions = state.withLock { state -> [Subscription] in
            state.closed = true
            state.pending.removeAll()
            defer { state.subscriptions.removeAll() }
            return Array(state.subscriptions.values)
        }
        for subscription in subscriptions { end(subscription) }
        wake.finish()
    }

    private func end(_ subscription: Subscription) {
        subscription.task.cancel()
        subscription.lease.release()
    }
}

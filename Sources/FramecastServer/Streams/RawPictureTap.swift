import MediaPipeline
import Synchronization

/// A stream's raw pictures (the frames its pipeline encodes, from an appsink named `raw`), handed
/// to whoever subscribed: its renditions, which then never decode a JPEG. Nobody subscribed, a
/// picture costs one lock and is released at once.
final class RawPictureTap: Sendable {
    typealias Receiver = @Sendable (RawPicture, WallClock.Instant) -> Void

    private struct State {
        var receivers: [UInt64: Receiver] = [:]
        var next: UInt64 = 0
    }

    private let state = Mutex(State())

    /// A subscription that ends when released (or dropped).
    final class Subscription: Sendable {
        private let end: @Sendable () -> Void
        private let ended = Atomic(false)

        init(end: @escaping @Sendable () -> Void) { self.end = end }

        func cancel() {
            if !ended.exchange(true, ordering: .acquiringAndReleasing) { end() }
        }

        deinit { cancel() }
    }

    func subscribe(_ receiver: @escaping Receiver) -> Subscription {
        let id = state.withLock { state -> UInt64 in
            state.next += 1
            state.receivers[state.next] = receiver
            return state.next
        }
        return Subscription { [weak self] in
            _ = self?.state.withLock { $0.receivers.removeValue(forKey: id) }
        }
    }

    var isEmpty: Bool { state.withLock { $0.receivers.isEmpty } }

    /// Hands `picture` to every receiver, outside the lock.
    func offer(_ picture: RawPicture, capturedAt: WallClock.Instant) {
        let receivers = state.withLock { Array($0.receivers.values) }
        for receiver in receivers { receiver(picture, capturedAt) }
    }
}

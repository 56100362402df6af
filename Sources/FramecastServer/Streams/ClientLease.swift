import Synchronization

/// A client's claim on a stream: while any lease is held the pipeline runs. Released once,
/// explicitly or when dropped.
public final class ClientLease: Sendable {
    private let released = Atomic(false)
    private let onRelease: @Sendable () -> Void

    init(onRelease: @escaping @Sendable () -> Void) {
        self.onRelease = onRelease
    }

    public func release() {
        if !released.exchange(true, ordering: .acquiringAndReleasing) {
            onRelease()
        }
    }

    deinit { release() }
}

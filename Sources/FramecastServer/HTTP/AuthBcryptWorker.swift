import Dispatch
import Synchronization

/// Runs bcrypt checks one at a time on a serial dispatch queue: a thread of its own, never one of
/// Swift's shared concurrency pool (two threads on two cores, where a quarter-second check stalls
/// every route, `/healthz` included). (NIOPosix's `NIOThreadPool` would do the same; the
/// FramecastServer target does not depend on NIOPosix.)
///
/// Bounded: at most `capacity` checks are admitted (running or waiting); past that `verify`
/// answers nil at once and nothing runs. Checks of the same key (the same Authorization header)
/// admitted together share one run: a page opening several requests at once pays once.
final class AuthBcryptWorker: Sendable {
    private struct State {
        var admitted = 0
        var waiting: [AuthCredentialCache.Key: [CheckedContinuation<Bool?, Never>]] = [:]
    }

    let capacity: Int
    private let queue = DispatchQueue(label: "framecast.bcrypt")
    private let state = Mutex(State())

    init(capacity: Int) {
        self.capacity = max(1, capacity)
    }

    /// The result of `check`, run on the worker's thread (or of the identical check already
    /// admitted), or nil when the worker is full.
    func verify(_ key: AuthCredentialCache.Key, _ check: @escaping @Sendable () -> Bool) async -> Bool? {
        await withCheckedContinuation { continuation in
            let start: Bool? = state.withLock { state in
                if state.waiting[key] != nil {
                    state.waiting[key]?.append(continuation)
                    return false
                }
                guard state.admitted < capacity else { return nil }
                state.admitted += 1
                state.waiting[key] = [continuation]
                return true
            }
            switch start {
            case nil: continuation.resume(returning: nil)
            case false?: break
            case true?: queue.async { self.run(key, check) }
            }
        }
    }

    /// Checks admitted (running or waiting for the thread).
    var admitted: Int { state.withLock { $0.admitted } }
    /// Requests waiting for a result (several may wait for one check).
    var waiting: Int { state.withLock { $0.waiting.values.reduce(0) { $0 + $1.count } } }

    private func run(_ key: AuthCredentialCache.Key, _ check: () -> Bool) {
        let result = check()
        let waiters = state.withLock { state in
            state.admitted -= 1
            return state.waiting.removeValue(forKey: key) ?? []
        }
        for waiter in waiters { waiter.resume(returning: result) }
    }
}

/// Failed logins per client address: past `failuresAllowed` within `failureWindow` (counted from
/// the window's first failure), the address is refused, without a check, until the window ends.
/// A success from the address forgets its failures: every user sees the same cameras, so a
/// client holding one valid login gains nothing by guessing another.
///
/// Memory is bounded: at `trackedAddresses` it sheds a quarter, ended windows first, then the
/// oldest.
struct AuthFailureThrottle {
    private struct Window {
        var start: ContinuousClock.Instant
        var failures: Int
    }

    private let allowed: Int
    private let length: Duration
    private let capacity: Int
    private var windows: [String: Window] = [:]

    init(failuresAllowed: Int, window: Duration, trackedAddresses: Int) {
        allowed = failuresAllowed
        length = window
        capacity = max(1, trackedAddresses)
    }

    var count: Int { windows.count }

    /// How long `address` is still refused, or nil when it may try.
    func refusal(_ address: String, now: ContinuousClock.Instant) -> Duration? {
        guard let window = windows[address], window.failures > allowed else { return nil }
        let end = window.start + length
        return now < end ? end - now : nil
    }

    /// Counts a failure; returns how long the address is now refused when this failure crossed
    /// the limit.
    mutating func recordFailure(_ address: String, now: ContinuousClock.Instant) -> Duration? {
        if var window = windows[address], now < window.start + length {
            window.failures += 1
            windows[address] = window
            return window.failures == allowed + 1 ? window.start + length - now : nil
        }
        if windows[address] == nil, windows.count >= capacity {
            // Down to three quarters in one pass, so the pass is paid once per many new
            // addresses, not for each: ended windows first, then the oldest live ones.
            windows = windows.filter { now < $0.value.start + length }
            let excess = windows.count - (capacity - max(1, capacity / 4))
            if excess > 0 {
                for (key, _) in windows.sorted(by: { $0.value.start < $1.value.start }).prefix(excess) { windows[key] = nil }
            }
        }
        windows[address] = Window(start: now, failures: 1)
        return allowed == 0 ? length : nil
    }

    mutating func forgive(_ address: String) {
        windows[address] = nil
    }
}

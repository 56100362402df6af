/// Measures the pipeline's frame rate from the arrival times of its last frames (up to 64, from
/// the last minute), so a 0.5 fps source reads 0.5, not 0.
struct InputRateMeter {
    private var arrivals: [UInt64]  // monotonic nanoseconds, ring buffer
    private var next = 0
    private var count = 0
    /// Frames older than this do not count.
    private let window: UInt64 = 60_000_000_000

    init(capacity: Int = 64) {
        arrivals = Array(repeating: 0, count: capacity)
    }

    mutating func record(at nanoseconds: UInt64) {
        arrivals[next] = nanoseconds
        next = (next + 1) % arrivals.count
        count = min(count + 1, arrivals.count)
    }

    mutating func reset() {
        count = 0
        next = 0
    }

    /// Frames per second over the recorded arrivals; 0 once the source has been quiet for twice
    /// its usual interval (at least two seconds): a stalled pipeline reads 0 soon.
    func framesPerSecond(now: UInt64) -> Double {
        var oldest = UInt64.max
        var newest: UInt64 = 0
        var inWindow = 0
        for index in 0..<count {
            let time = arrivals[index]
            guard now >= time, now - time <= window else { continue }
            inWindow += 1
            oldest = min(oldest, time)
            newest = max(newest, time)
        }
        guard inWindow >= 2, newest > oldest else { return 0 }
        let interval = Double(newest - oldest) / Double(inWindow - 1)
        guard Double(now - newest) <= max(2e9, 2 * interval) else { return 0 }
        return 1e9 / interval
    }
}

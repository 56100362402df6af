import Foundation

/// Wall-clock time in microseconds since the Unix epoch: what `X-Timestamp` carries and what a
/// client on the same machine compares with its own clock to measure latency.
public enum WallClock {
    public struct Instant: Sendable, Hashable, Comparable {
        public let microseconds: Int64

        public init(microseconds: Int64) { self.microseconds = microseconds }

        public static func < (lhs: Instant, rhs: Instant) -> Bool { lhs.microseconds < rhs.microseconds }

        /// `seconds.micros`, e.g. `1764123456.042137`.
        public var headerValue: String {
            let seconds = microseconds / 1_000_000
            let fraction = microseconds % 1_000_000
            let digits = String(fraction)
            return "\(seconds).\(String(repeating: "0", count: 6 - digits.count))\(digits)"
        }

        public var secondsSinceEpoch: Double { Double(microseconds) / 1_000_000 }

        /// Seconds from this instant to `later` (negative when `later` is earlier).
        public func seconds(until later: Instant) -> Double {
            Double(later.microseconds - microseconds) / 1_000_000
        }
    }

    public static func now() -> Instant {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return Instant(microseconds: Int64(spec.tv_sec) * 1_000_000 + Int64(spec.tv_nsec) / 1_000)
    }
}

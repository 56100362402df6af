@testable import FramecastServer
import Testing

/// The status `fps` of slow and stalled sources.
struct InputRateMeterTests {
    static let second: UInt64 = 1_000_000_000

    /// (frames per second of the source, expected reading): a 0.5 fps stream used to read 0.0.
    @Test(arguments: [(30.0, 30.0), (5.0, 5.0), (1.0, 1.0), (0.5, 0.5), (0.2, 0.2)])
    func steadySourcesReadTheirRate(fps: Double, expected: Double) {
        var meter = InputRateMeter()
        let interval = UInt64(Double(Self.second) / fps)
        var now = 100 * Self.second
        for _ in 0..<10 {
            meter.record(at: now)
            now += interval
        }
        // Asked just before the next frame is due.
        let reading = meter.framesPerSecond(now: now - interval / 10)
        #expect(abs(reading - expected) < expected * 0.01, "\(fps) fps read as \(reading)")
    }

    @Test func aStalledSourceReadsZeroSoon() {
        var meter = InputRateMeter()
        for index in 0..<30 { meter.record(at: 10 * Self.second + UInt64(index) * Self.second / 30) }
        let last = 10 * Self.second + 29 * Self.second / 30
        #expect(meter.framesPerSecond(now: last + Self.second) > 29)
        #expect(meter.framesPerSecond(now: last + 3 * Self.second) == 0)
    }

    @Test func oneFrameIsNoRate() {
        var meter = InputRateMeter()
        meter.record(at: Self.second)
        #expect(meter.framesPerSecond(now: Self.second) == 0)
        meter.reset()
        #expect(meter.framesPerSecond(now: 2 * Self.second) == 0)
    }
}

import Foundation
import MediaPipeline
import Synchronization
import Testing

/// Runs real pipelines and watches what comes out of the appsink and the bus.
@Suite struct PipelineRunTests {
    /// Collects what the handlers receive, on GStreamer's threads.
    final class Recorder: Sendable {
        let samples = Mutex<[(bytes: [UInt8], format: SampleFormat)]>([])
        let events = Mutex<[BusEvent]>([])

        func waitFor(_ seconds: Double, _ condition: () -> Bool) async throws -> Bool {
            let deadline = Date().addingTimeInterval(seconds)
            while Date() < deadline {
                if condition() { return true }
                try await Task.sleep(for: .milliseconds(20))
            }
            return condition()
        }

        /// A pipeline whose samples and bus events this recorder keeps.
        func pipeline(_ description: String) throws -> Pipeline {
            try Pipeline(
                description: description,
                onSample: { bytes, format in self.samples.withLock { $0.append((Array(bytes), format)) } },
                onBusEvent: { event in self.events.withLock { $0.append(event) } })
        }

        var sawError: Bool {
            events.withLock { $0.contains { if case .error = $0 { true } else { false } } }
        }
    }

    @Test func deliversJPEGSamplesOfTheNegotiatedSize() async throws {
        let recorder = Recorder()
        let pipeline = try recorder.pipeline("videotestsrc num-buffers=5 ! video/x-raw,width=96,height=64 ! jpegenc ! appsink name=sink")
        try pipeline.play()
        let ended = try await recorder.waitFor(10) { recorder.events.withLock { $0.contains(.endOfStream) } }
        pipeline.stop()
        #expect(ended, "no end-of-stream from a 5-buffer source")
        let samples = recorder.samples.withLock { $0 }
        #expect(samples.count == 5)
        for sample in samples {
            #expect(sample.format.width == 96 && sample.format.height == 64)
            #expect(sample.format.presentationTimestamp != nil, "a live source stamps its buffers")
            #expect(Array(sample.bytes.prefix(2)) == [0xFF, 0xD8])
            #expect(Array(sample.bytes.suffix(2)) == [0xFF, 0xD9])
        }
    }

    @Test func reportsAnElementErrorWithItsPathAndDebugString() async throws {
        let recorder = Recorder()
        let pipeline = try recorder.pipeline(
            "videotestsrc ! video/x-raw,width=64,height=48 ! identity name=breaker error-after=3 ! jpegenc ! appsink name=sink")
        try pipeline.play()
        let failed = try await recorder.waitFor(10) { recorder.sawError }
        pipeline.stop()
        #expect(failed)
        let fault = recorder.events.withLock { events in
            events.compactMap { if case .error(let fault) = $0 { fault } else { nil } }.first
        }
        #expect(fault?.element?.hasSuffix("breaker") == true)
        #expect(fault?.message.isEmpty == false)
        #expect(fault?.debug?.isEmpty == false)
    }

    @Test func aDeviceThatIsNotThereFailsToStartWithTheDeviceNamed() async throws {
        let recorder = Recorder()
        let pipeline = try recorder.pipeline("v4l2src device=/dev/framecast-no-such-camera ! image/jpeg ! appsink name=sink")
        #expect(throws: PipelineError.self) { try pipeline.play() }
        let reported = try await recorder.waitFor(5) { recorder.sawError }
        pipeline.stop()
        #expect(reported)
        let text = recorder.events.withLock { $0.map { "\($0)" }.joined() }
        #expect(text.contains("framecast-no-such-camera"))
    }

    @Test func aStoppedPipelineDeliversNothingMoreAndIsNotRestarted() async throws {
        let recorder = Recorder()
        let pipeline = try recorder.pipeline(Self.livePattern)
        try pipeline.play()
        #expect(try await recorder.waitFor(10) { !recorder.samples.withLock(\.isEmpty) })
        pipeline.stop()
        let count = recorder.samples.withLock(\.count)
        #expect(throws: PipelineError.self) { try pipeline.play() }
        try await Task.sleep(for: .milliseconds(300))
        #expect(recorder.samples.withLock(\.count) == count, "samples after stop()")
    }

    /// `play()` on one thread and `stop()` on another, in either order: once both have returned the
    /// pipeline is stopped and delivers nothing.
    @Test func aStopRacingAPlayLeavesThePipelineStopped() async throws {
        let runs = try (0..<20).map { _ in
            let recorder = Recorder()
            return (recorder, try recorder.pipeline(Self.livePattern))
        }
        for (number, (_, pipeline)) in runs.enumerated() {
            // Either call first, by turns.
            DispatchQueue.concurrentPerform(iterations: 2) { index in
                if (index + number) % 2 == 0 { try? pipeline.play() } else { pipeline.stop() }
            }
        }
        let counts = runs.map { recorder, _ in recorder.samples.withLock(\.count) }
        try await Task.sleep(for: .milliseconds(300))
        #expect(runs.map { recorder, _ in recorder.samples.withLock(\.count) } == counts, "samples after play() and stop() returned")
    }

    static let livePattern = "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=100/1 ! jpegenc ! appsink name=sink"
}

import Foundation
import Testing

/// 500 starts and stops of a stream's pipeline (idle stop and restart, restarts after
/// end-of-stream, restarts after an error) leak neither descriptors, nor memory, nor GStreamer
/// objects; nor do the error paths of building one. Runs the `PipelineCycles` executable as a
/// child process with GStreamer's leak tracer, whose report (on stderr, at `gst_deinit`) lists
/// every object still alive.
@Suite(.serialized) struct PipelineCycleTests {
    static let cycles = 500

    /// Built beside the test bundle (the test target depends on the executable target).
    static var harness: URL {
        FramecastProcess.executable.deletingLastPathComponent().appendingPathComponent("PipelineCycles")
    }

    @Test(arguments: ["idle", "eos", "error"])
    func fiveHundredStartsAndStopsLeakNothing(mode: String) async throws {
        try await Self.expectNoLeaks(mode: mode, cycles: Self.cycles)
    }

    /// Every way a description is rejected, `opensDevice`, `PipelineProbe` and the placeholder
    /// picture: an error path that keeps a reference leaks as surely as a bus message does.
    @Test func errorPathsProbesAndPlaceholdersLeakNothing() async throws {
        try await Self.expectNoLeaks(mode: "paths", cycles: 100)
    }

    /// A rendition made and gone per cycle: its encoder pipeline, its feed's lease on the stream,
    /// its consumer of the stream's hub and its supervisor all go with it.
    @Test func renditionsMadeAndGoneLeakNothing() async throws {
        try await Self.expectNoLeaks(mode: "rendition", cycles: 150)
    }

    static func expectNoLeaks(mode: String, cycles: Int) async throws {
        let run = try await HarnessRun.run(arguments: [mode, String(cycles)], timeout: 150)
        #expect(run.status == 0, "\(mode): exit status \(run.status); stderr ends: \(run.standardError.suffix(2000))")

        let early = try #require(run.measurement(cycle: 10), "\(mode): no cycle=10 line in \(run.standardOutput)")
        let late = try #require(run.measurement(cycle: cycles), "\(mode): no cycle=\(cycles) line in \(run.standardOutput)")
        #expect(late.fds - early.fds <= 3, "\(mode): descriptors \(early.fds) after cycle 10, \(late.fds) after \(cycles)")
        #expect(
            late.rssKilobytes - early.rssKilobytes <= 10 * 1024,
            "\(mode): resident memory \(early.rssKilobytes) kB after cycle 10, \(late.rssKilobytes) kB after \(cycles)")

        // The leak tracer was loaded (it logs its record format at start-up) and GStreamer was shut
        // down, so the tracer did report: an empty list below means something.
        #expect(run.standardError.contains("object-alive"), "\(mode): the leaks tracer did not run")
        #expect(run.standardOutput.contains("deinitialized"), "\(mode): GStreamer was not shut down")
        let alive = run.aliveTypeCounts.filter { isPipelineObject($0.key) }
        #expect(alive.isEmpty, "\(mode): alive after teardown: \(alive.sorted { $0.key < $1.key })")
    }

    /// A pipeline, any element (the types the harness's and the placeholder's pipelines use, and
    /// any source, sink or bin), or a message: each one alive after teardown is a reference that
    /// somebody did not release. Pads and buses belong to their element and are counted too.
    static func isPipelineObject(_ type: String) -> Bool {
        let elements: Set<String> = [
            "GstPipeline", "GstBin", "GstElement", "GstVideoTestSrc", "GstCapsFilter", "GstJpegEnc", "GstAppSink",
            "GstFileSrc", "GstJpegParse", "GstTextOverlay", "GstIdentity", "GstFakeSink", "GstAudioConvert", "GstV4l2Src",
            "GstMessage", "GstBus", "GstPad",
        ]
        return elements.contains(type) || type.hasSuffix("Src") || type.hasSuffix("Sink") || type.hasSuffix("Bin")
    }

    /// The harness run to completion, its stdout and stderr read as they come (the tracer's report
    /// can be large: a full pipe would block the child).
    struct HarnessRun {
        let status: Int32
        let standardOutput: String
        let standardError: String

        static func run(arguments: [String], timeout: Double) async throws -> HarnessRun {
            let process = Process()
            process.executableURL = PipelineCycleTests.harness
            process.arguments = arguments
            var environment = ProcessInfo.processInfo.environment
            environment["GST_TRACERS"] = "leaks"
            environment["GST_DEBUG"] = "GST_TRACER:7"
            environment["GST_DEBUG_NO_COLOR"] = "1"
            process.environment = environment
            let output = Collector()
            let errors = Collector()
            process.standardOutput = output.pipe
            process.standardError = errors.pipe
            try process.run()
            output.start()
            errors.start()
            do {
                try await eventually(timeout, "PipelineCycles \(arguments) to exit") {
                    !process.isRunning && output.ended && errors.ended
                }
            } catch {
                if process.isRunning { kill(process.processIdentifier, SIGKILL) }
                throw HTTPTestError.timedOut(
                    "PipelineCycles \(arguments) within \(timeout) s (running: \(process.isRunning), output ended: \(output.ended), "
                        + "errors ended: \(errors.ended)); it printed: \(output.text)")
            }
            return HarnessRun(status: process.terminationStatus, standardOutput: output.text, standardError: errors.text)
        }

        /// `cycle=N fds=N rss_kb=N ...`
        func measurement(cycle: Int) -> (fds: Int, rssKilobytes: Int)? {
            for line in standardOutput.split(separator: "\n") where line.hasPrefix("cycle=\(cycle) ") {
                var fields: [Substring: Int] = [:]
                for field in line.split(separator: " ") {
                    let pair = field.split(separator: "=", maxSplits: 1)
                    if pair.count == 2 { fields[pair[0]] = Int(pair[1]) }
                }
                guard let fds = fields["fds"], let rss = fields["rss_kb"] else { return nil }
                return (fds, rss)
            }
            return nil
        }

        /// The leak tracer's `object-alive, type-name=(string)GstPipeline, ...` lines, by type.
        var aliveTypeCounts: [String: Int] {
            var counts: [String: Int] = [:]
            // The tracer's own format line has `type-name=(string)%s`.
            for line in standardError.split(separator: "\n") {
                guard let start = line.range(of: "object-alive, type-name=(string)")?.upperBound else { continue }
                let type = line[start...].prefix { $0 != "," && $0 != ";" && $0 != " " }
                if type != "%s" { counts[String(type), default: 0] += 1 }
            }
            return counts
        }
    }

    /// Reads a pipe until end-of-file on a thread of its own. Not a `readabilityHandler`: on Linux
    /// it is not always called at end-of-file (swift-corelibs-foundation#3275), so the end of the
    /// child's output would never be seen.
    final class Collector: @unchecked Sendable {
        let pipe = Pipe()
        private let lock = NSLock()
        private var data = Data()
        private var atEnd = false

        /// Call once the child runs (it holds the write end; the parent's copy is closed then).
        func start() {
            let handle = pipe.fileHandleForReading
            Thread.detachNewThread {
                while true {
                    let chunk = handle.availableData  // blocks until data or end-of-file
                    self.lock.withLock {
                        if chunk.isEmpty { self.atEnd = true } else { self.data.append(chunk) }
                    }
                    if chunk.isEmpty { return }
                }
            }
        }

        var ended: Bool { lock.withLock { atEnd } }
        var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
    }
}

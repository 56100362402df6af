import Foundation
import Testing

/// The `framecast` executable: start-up errors, `--check`, SIGTERM, and a stalled reader, run as
/// a child process so its exit status and resident memory are its own.
@Suite(.serialized) struct ProcessTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: [
        ("videotestsrc ! ! appsink name=sink", "does not parse"),
        ("videotestsrc ! nosuchencoder ! appsink name=sink", "`nosuchencoder`"),
        ("videotestsrc ! jpegenc ! fakesink", "no element named `sink`"),
        ("videotestsrc ! video/x-raw,width=64,height=48 ! appsink name=sink", "not image/jpeg"),
    ])
    func startupErrorExitsWithStatus2AndSaysWhatToDo(pipeline: String, says: String) async throws {
        for mode in [["--check"], []] {
            let result = try await FramecastProcess.runToExit(mode + ["--pipeline", pipeline, "--port", "0"])
            #expect(result.status == 2, "\(mode) \(pipeline)")
            #expect(result.error.contains(says), "stderr: \(result.error)")
            #expect(result.error.contains("appsink name=sink") || result.error.contains("gst-"), "no fix named: \(result.error)")
        }
    }

    @Test func checkAcceptsTheShippedPipelinesAndTheBuiltInPattern() async throws {
        let builtIn = try await FramecastProcess.runToExit(["--check"])
        #expect(builtIn.status == 0)
        #expect(builtIn.output.contains("videotestsrc"))
        for file in ["test", "camera", "camera-mjpeg"] {
            let path = Self.repository.appendingPathComponent("pipelines/\(file).pipeline").path
            let result = try await FramecastProcess.runToExit(["--check", "--pipeline-file", path])
            #expect(result.status == 0, "\(file): \(result.error)")
        }
        let missing = try await FramecastProcess.runToExit(["--check", "--pipeline-file", "/nonexistent.pipeline"])
        #expect(missing.status == 2)
        #expect(missing.error.contains("/nonexistent.pipeline"))
    }

    @Test func sigtermWithClientsConnectedEndsEveryStreamAndExitsWithin2Seconds() async throws {
        let server = try await FramecastProcess.serve(["--pipeline", TestPipelines.pattern()])
        defer { server.terminate() }
        let (connected, connectedSink) = AsyncStream<Void>.makeStream()
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<6 {
                group.addTask {
                    let agent = index % 2 == 0 ? "curl/8" : "Mozilla/5.0"
                    return try await server.server.stream(userAgent: agent) { reader, parts in
                        _ = try #require(try await parts.next(&reader))
                        connectedSink.yield()
                        while try await parts.next(&reader) != nil {}
                        return parts.closed
                    }
                }
            }
            var iterator = connected.makeAsyncIterator()
            for _ in 0..<6 { await iterator.next() }
            let signalledAt = Date()
            kill(server.process.processIdentifier, SIGTERM)
            try await server.waitForExit(timeout: 5)
            let took = Date().timeIntervalSince(signalledAt)
            #expect(took < 2, "exit took \(took) s")
            #expect(server.process.terminationStatus == 0)
            var closedCleanly = 0
            for try await closed in group where closed { closedCleanly += 1 }
            #expect(closedCleanly == 6, "\(closedCleanly) of 6 streams saw the closing boundary")
        }
    }

    @Test func aClientThatStopsReadingSlowsNobodyAndHoldsNoMemory() async throws {
        // Noise compresses badly: ~100 KB frames at 30 fps make a stalled client's backlog large
        // (about 3 MB/s) if the server queued frames for it.
        let heavy = "videotestsrc is-live=true pattern=snow ! video/x-raw,width=640,height=360,framerate=30/1 ! jpegenc quality=90 ! appsink name=sink"
        let server = try await FramecastProcess.serve(["--pipeline", heavy])
        defer { server.terminate() }
        let stalled = try (0..<3).map { _ in try StalledClient(port: server.port, path: "/stream") }
        // Let the stalled sockets fill, then measure a window.
        try await withDeadline(60, "fast clients beside stalled ones") {
            let warmup = try await server.server.stream { reader, parts in
                for _ in 0..<30 { _ = try #require(try await parts.next(&reader)) }
                return true
            }
            #expect(warmup)
            let rssBefore = server.residentBytes
            let rates = try await withThrowingTaskGroup(of: Double.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        try await server.server.stream { reader, parts in
                            let first = try #require(try await parts.next(&reader))
                            var last = first
                            for _ in 0..<120 { last = try #require(try await parts.next(&reader)) }
                            return 120 / (last.timestamp! - first.timestamp!)
                        }
                    }
                }
                var rates: [Double] = []
                for try await rate in group { rates.append(rate) }
                return rates
            }
            let growth = server.residentBytes - rssBefore
            let sourceRate = try await server.server.status()["fps"] as? Double ?? 30
            for rate in rates {
                #expect(rate >= 0.8 * 30, "a fast client got \(rate) fps beside stalled ones (source \(sourceRate))")
            }
            // 4 s of the stalled clients' frames would be ~36 MB if they were queued.
            #expect(growth < 12 << 20, "resident memory grew by \(growth >> 20) MB")
            #expect(try await server.server.status()["clients"] as? Int == 3)
        }
        _ = stalled
    }
}

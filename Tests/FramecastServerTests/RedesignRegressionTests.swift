import Foundation
import FramecastServer
import MediaPipeline
import Testing

/// Bugs of the old frame path and lifecycle (issue 11), each against a real pipeline and socket.
@Suite(.serialized) struct RedesignRegressionTests {
    /// A snapshot of a stream in the `error` state (failed with nobody watching) was always 503:
    /// the lease restarted the pipeline asynchronously and the controller checked the state at once.
    @Test func snapshotOfAFailedStreamStartsItAgainAndAnswersWithAFrame() async throws {
        // Ends (end-of-stream) half a second after it starts: with nobody watching, it fails.
        let finite = "videotestsrc num-buffers=15 ! video/x-raw,width=160,height=120,framerate=30/1 ! jpegenc ! appsink name=sink"
        try await TestServer.run(pipeline: finite, configure: { $0.stream.idleTimeout = 30 }) { server in
            try await withDeadline(30, "a snapshot of a failed stream") {
                let (first, _) = try await server.get("/snapshot")
                #expect(first.status == 200)
                try await eventually(10, "the stream failed with nobody watching") {
                    try await server.state() == "error"
                }
                let (head, body) = try await server.get("/snapshot")
                #expect(head.status == 200, "\(String(decoding: body, as: UTF8.self))")
                #expect(jpegDimensions(body)?.width == 160)
                #expect(try await server.status()["restarts"] as? Int == 1)
            }
        }
    }

    /// A snapshot that waits on a run which then fails answers 503 with the pipeline's error at
    /// once, not after the whole snapshot timeout.
    @Test func snapshotWaitingOnARunThatFailsAnswersWithItsError() async throws {
        // No frame ever reaches the sink, and the first identity fails the run after 10 buffers.
        let pipeline = TestPipelines.pattern(width: 160, height: 120, extra: "! identity error-after=10 ! identity drop-probability=1.0")
        try await TestServer.run(pipeline: pipeline, configure: { $0.stream.snapshotTimeout = 20 }) { server in
            try await withDeadline(15, "an early 503") {
                let started = Date()
                let (head, body) = try await server.get("/snapshot")
                #expect(head.status == 503)
                let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
                #expect((json["lastError"] as? String)?.isEmpty == false, "\(json)")
                #expect(Date().timeIntervalSince(started) < 10, "it waited for the 20 s snapshot timeout")
            }
        }
    }

    /// With `--always-on`, a viewer arriving during the back-off after a failure was first sent
    /// the frame from before the failure.
    @Test func aViewerArrivingDuringBackoffIsNeverSentAFrameFromBeforeTheFailure() async throws {
        let finite = "videotestsrc num-buffers=10 ! video/x-raw,width=160,height=120,framerate=30/1 ! jpegenc ! appsink name=sink"
        try await TestServer.run(pipeline: finite, configure: {
            $0.stream.alwaysOn = true
            $0.stream.minimumRestartDelay = 4
            $0.stream.maximumRestartDelay = 4
        }) { server in
            try await withDeadline(30, "a viewer during back-off") {
                try await eventually(10, "the always-on stream failed once and waits to restart") {
                    try await server.state() == "restarting"
                }
                let failedAt = try #require((try await server.status()["lastError"] as? [String: Any])?["at"] as? Double)
                try await server.stream { reader, parts in
                    let first = try #require(try await parts.next(&reader))
                    if !first.isPlaceholder {
                        let timestamp = try #require(first.timestamp)
                        #expect(timestamp > failedAt, "the first frame was captured before the failure")
                    }
                }
            }
        }
    }

    /// The status `fps` of a 0.5 fps stream read 0.0.
    @Test func theStatusOfAHalfFrameASecondStreamReadsHalf() async throws {
        let slow = TestPipelines.pattern(width: 160, height: 120, fps: "1/2")
        try await TestServer.run(pipeline: slow) { server in
            try await withDeadline(30, "fps of a slow stream") {
                try await server.stream { reader, parts in
                    for _ in 0..<3 { _ = try #require(try await parts.nextFrame(&reader)) }
                    let fps = try await server.status()["fps"] as? Double ?? 0
                    #expect(abs(fps - 0.5) < 0.05, "fps \(fps)")
                }
            }
        }
    }

    /// A start decided on a client's thread and a stop decided on the stream's queue could reach
    /// the queue in the opposite order: the new pipeline replaced the old one under the lock, whose
    /// release waited for a streaming thread waiting for that lock, and the whole server hung
    /// (found by review: within seconds at `--idle-timeout 0` with concurrent snapshots).
    @Test func snapshotsRacingIdleStopsNeitherHangNorLeakPipelines() async throws {
        let fast = "videotestsrc is-live=false ! video/x-raw,width=64,height=48 ! jpegenc ! appsink name=sink sync=false"
        try await TestServer.run(pipeline: fast, configure: { $0.stream.idleTimeout = 0 }) { server in
            try await withDeadline(90, "300 snapshots racing idle stops") {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for _ in 0..<6 {
                        group.addTask {
                            for _ in 0..<50 {
                                let (head, _) = try await server.get("/snapshot")
                                #expect(head.status == 200 || head.status == 503)
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let (health, _) = try await server.get("/healthz")
                #expect(health.status == 200)
                try await eventually(10, "every lease released and the pipeline stopped") {
                    let status = try await server.status()
                    return status["clients"] as? Int == 0 && status["state"] as? String != "playing"
                }
                #expect(Pipeline.liveCount <= 1, "\(Pipeline.liveCount) pipelines alive")
            }
        }
    }
}

import Foundation
import FramecastServer
import Testing

/// Starting on demand, stopping when idle, restarting after failures.
@Suite(.serialized) struct LifecycleTests {
    @Test func pipelineStopsAfterIdleTimeoutAndStartsAgainForTheNextClient() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(), configure: { $0.stream.idleTimeout = 1 }) { server in
            try await withDeadline(30, "idle stop and restart") {
                #expect(try await server.state() == "idle")
                try await server.stream { reader, parts in
                    _ = try #require(try await parts.next(&reader))
                }
                #expect(try await server.state() != "idle")
                try await eventually(5, "the pipeline set to NULL after 1 s without clients") {
                    try await server.state() == "idle"
                }
                let before = try await server.status()["framesPublished"] as? Int ?? 0
                try await server.stream { reader, parts in
                    let part = try #require(try await parts.next(&reader))
                    #expect(jpegDimensions(part.body) != nil)
                    #expect(try await server.state() == "playing")
                }
                let after = try await server.status()["framesPublished"] as? Int ?? 0
                #expect(after > before)
                #expect(try await server.status()["restarts"] as? Int == 0)
            }
        }
    }

    @Test func alwaysOnStartsWithoutClients() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(), configure: { $0.stream.alwaysOn = true }) { server in
            try await eventually(10, "an always-on pipeline playing with no client") {
                try await server.state() == "playing"
            }
        }
    }

    @Test func departedClientIsRemovedAtOnceEvenWithNoFrameFlowing() async throws {
        let silent = TestPipelines.pattern(extra: "! identity drop-probability=1.0")
        try await TestServer.run(pipeline: silent) { server in
            try await withDeadline(15, "client count back to 0") {
                try await server.stream { _, _ in
                    try await eventually(5, "one client counted") {
                        try await server.status()["clients"] as? Int == 1
                    }
                }
                // The connection is closed; no frame will ever be written to notice it.
                try await eventually(2, "the departed client removed") {
                    try await server.status()["clients"] as? Int == 0
                }
            }
        }
    }

    @Test func snapshotOfAnIdlePipelineStartsItAndReturnsAFreshFrame() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 320, height: 240)) { server in
            try await withDeadline(20, "a snapshot") {
                #expect(try await server.state() == "idle")
                let askedAt = Date().timeIntervalSince1970
                let (head, body) = try await server.get("/snapshot")
                #expect(head.status == 200)
                #expect(head.header("content-type") == "image/jpeg")
                #expect(head.header("cache-control") == "no-store")
                let size = try #require(jpegDimensions(body))
                #expect(size.width == 320 && size.height == 240)
                let captured = try #require(head.header("x-timestamp").flatMap(Double.init))
                #expect(captured >= askedAt - 0.01)
            }
        }
    }

    @Test func snapshotAnswers503WithAReasonWhenNoFrameComes() async throws {
        let silent = TestPipelines.pattern(extra: "! identity drop-probability=1.0")
        try await TestServer.run(pipeline: silent, configure: { $0.stream.snapshotTimeout = 1 }) { server in
            try await withDeadline(15, "a 503 snapshot") {
                let (head, body) = try await server.get("/snapshot")
                #expect(head.status == 503)
                #expect(head.header("retry-after") != nil)
                #expect(head.header("content-type")?.hasPrefix("application/json") == true)
                let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
                #expect((json["error"] as? String)?.contains("no frame") == true)
            }
        }
    }

    @Test func statusReportsThePipelineAndItsMeasurements() async throws {
        let pipeline = TestPipelines.pattern(width: 320, height: 240)
        try await TestServer.run(pipeline: pipeline) { server in
            try await withDeadline(20, "status while streaming") {
                try await server.stream { reader, parts in
                    for _ in 0..<40 { _ = try #require(try await parts.next(&reader)) }
                    let status = try await server.status()
                    #expect(status["pipeline"] as? String == pipeline)
                    #expect(status["state"] as? String == "playing")
                    #expect(status["width"] as? Int == 320)
                    #expect(status["height"] as? Int == 240)
                    #expect(status["clients"] as? Int == 1)
                    #expect((status["framesPublished"] as? Int ?? 0) >= 40)
                    #expect((status["lastFrameBytes"] as? Int ?? 0) > 1000)
                    #expect((status["lastFrameAgeSeconds"] as? Double ?? 99) < 1)
                    let fps = status["fps"] as? Double ?? 0
                    #expect(fps > 20 && fps < 40, "fps \(fps)")
                    #expect((status["uptimeSeconds"] as? Double ?? 0) > 0)
                    #expect(status["restarts"] as? Int == 0)
                    #expect(status["lastError"] == nil)
                }
            }
        }
    }

    @Test func pipelineErrorIsRestartedWhileClientsKeepReceiving() async throws {
        // identity fails the pipeline after 20 buffers; the supervisor restarts it after 1 s.
        let failing = TestPipelines.pattern(width: 160, height: 120, extra: "! identity error-after=20")
        try await TestServer.run(pipeline: failing) { server in
            try await withDeadline(40, "frames across a restart") {
                try await server.stream { reader, parts in
                    var firstRun = true
                    var framesAfterRestart = 0
                    var lastTimestamp = 0.0
                    while framesAfterRestart < 5 {
                        let part = try #require(try await parts.next(&reader))
                        #expect(jpegDimensions(part.body) != nil)
                        let timestamp = try #require(part.timestamp)
                        if firstRun, timestamp - lastTimestamp > 0.5, lastTimestamp > 0,
                            let restarts = try await server.status()["restarts"] as? Int, restarts >= 1
                        {
                            firstRun = false
                        }
                        if !firstRun, timestamp > lastTimestamp { framesAfterRestart += 1 }
                        lastTimestamp = max(lastTimestamp, timestamp)
                    }
                }
                let status = try await server.status()
                #expect((status["restarts"] as? Int ?? 0) >= 1)
                let lastError = try #require(status["lastError"] as? [String: Any])
                #expect((lastError["element"] as? String)?.contains("identity") == true)
                #expect((lastError["message"] as? String)?.isEmpty == false)
            }
        }
    }

    @Test func finiteSourceIsRestartedAfterEndOfStream() async throws {
        let finite = "videotestsrc num-buffers=15 ! video/x-raw,width=160,height=120,framerate=30/1 ! jpegenc ! appsink name=sink"
        try await TestServer.run(pipeline: finite) { server in
            try await withDeadline(30, "frames after end-of-stream") {
                try await server.stream { reader, parts in
                    try await eventually(10, "a restart after end-of-stream") {
                        _ = try #require(try await parts.next(&reader))
                        return (try await server.status()["restarts"] as? Int ?? 0) >= 1
                    }
                    // The same connection keeps receiving frames from the restarted pipeline.
                    let status = try await server.status()
                    let published = status["framesPublished"] as? Int ?? 0
                    try await eventually(10, "new frames after the restart") {
                        _ = try #require(try await parts.next(&reader))
                        return (try await server.status()["framesPublished"] as? Int ?? 0) > published
                    }
                }
            }
        }
    }
}

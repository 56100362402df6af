import Foundation
import FramecastServer
import Testing

/// Clients slower than the stream, clients that stop reading, and too many clients.
@Suite(.serialized) struct SlowClientTests {
    /// Noise at 480x270, quality 90: ~100 KB frames at 30 fps, about 3 MB/s.
    static let heavy = "videotestsrc is-live=true pattern=snow ! video/x-raw,width=480,height=270,framerate=30/1 ! jpegenc quality=90 ! appsink name=sink"

    @Test(arguments: [true, false])
    func aClientOnASlowLinkGetsFewerFramesNeverOlderOnes(sendfile: Bool) async throws {
        try await TestServer.run(pipeline: Self.heavy, configure: { $0.sendfile = sendfile }) { server in
            try await withDeadline(60, "slow and fast clients") {
                async let slow: (maxAge: Double, frames: Int) = withHTTPRequest(port: server.port, path: "/stream", slowLink: true) { reader in
                    reader.bytesPerSecond = 1_000_000
                    var parts = MultipartStreamReader(boundary: "framecast")
                    try await parts.readOpening(&reader)
                    let start = Date().timeIntervalSince1970
                    var maxAge = 0.0
                    var frames = 0
                    while Date().timeIntervalSince1970 - start < 8 {
                        let part = try #require(try await parts.next(&reader))
                        frames += 1
                        // The first second fills the pipes; after it, every frame must be fresh.
                        if part.receivedAt - start > 1 { maxAge = max(maxAge, part.receivedAt - part.timestamp!) }
                    }
                    return (maxAge, frames)
                }
                async let fast = server.stream { reader, parts in
                    try await MultiStreamTests.measureRate(&reader, &parts, seconds: 6)
                }
                let (slowResult, fastRate) = try await (slow, fast)
                #expect(slowResult.maxAge < 0.5, "the slow client saw a frame \(slowResult.maxAge) s old")
                print("slow link (sendfile \(sendfile)): max frame age \(slowResult.maxAge) s, \(slowResult.frames) frames; fast client \(fastRate) fps")
                #expect(slowResult.frames > 20 && slowResult.frames < 200, "the slow client got \(slowResult.frames) frames in 8 s")
                #expect(fastRate >= 24, "the fast client got \(fastRate) fps")
            }
        }
    }

    @Test func aClientThatAcceptsNoBytesIsDisconnectedAfterTheClientTimeout() async throws {
        try await TestServer.run(pipeline: Self.heavy, configure: { $0.clientTimeout = 2 }) { server in
            try await withDeadline(30, "the stalled client disconnected") {
                let stalled = try StalledClient(port: server.port, path: "/stream")
                try await eventually(5, "the stalled client counted") { try await server.status()["clients"] as? Int == 1 }
                let counted = Date()
                try await eventually(15, "the stalled client dropped") { try await server.status()["clients"] as? Int == 0 }
                #expect(Date().timeIntervalSince(counted) > 1.5, "dropped before the timeout")
                // Its socket is closed by the server: draining it ends in end-of-file, not a wait.
                #expect(stalled.drainsToEndOfFile(within: 10))
                // And the server still serves.
                try await server.stream { reader, parts in _ = try #require(try await parts.next(&reader)) }
            }
        }
    }

    @Test func pastMaxClientsNewClientsGet503WithRetryAfter() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: { $0.maxClients = 3 }) { server in
            try await withDeadline(30, "max clients") {
                let holders = try (0..<3).map { _ in try StalledClient(port: server.port, path: "/stream") }
                try await eventually(5, "three clients") { try await server.status()["serverClients"] as? Int == 3 }
                let (head, body) = try await server.get("/stream")
                #expect(head.status == 503)
                #expect(head.header("retry-after") != nil)
                #expect(String(decoding: body, as: UTF8.self).contains("at most 3"))
                let status = try await server.status()
                #expect(status["maxClients"] as? Int == 3)
                // Snapshots and status are not streaming clients: they still work.
                #expect(try await server.get("/snapshot").0.status == 200)
                _ = holders
            }
            // Once they leave, there is room again.
            try await eventually(5, "room again") { try await server.status()["serverClients"] as? Int == 0 }
            try await server.stream { reader, parts in _ = try #require(try await parts.next(&reader)) }
        }
    }
}

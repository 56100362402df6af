import Foundation
import FramecastServer
import Testing

/// `/ws`: the wall's frames over one WebSocket, for the streams the client asks for.
@Suite(.serialized) struct WallSocketTests {
    @Test func framesOfTheWantedStreamsArriveTaggedAndWhole() async throws {
        try await MultiStreamTests.runThree { server in
            try await withDeadline(30, "wall frames") {
                try await withHTTPRequest(port: server.port, path: "/ws", headers: WebSocketTestClient.upgradeHeaders) { reader in
                    #expect(reader.head.status == 101)
                    try await WebSocketTestClient.sendText(#"{"streams": ["small", "wide", "nope"]}"#, on: reader)
                    var seen: [String: Int] = [:]
                    var lastCapture: [String: Double] = [:]
                    var replies: [String] = []
                    while seen.values.filter({ $0 >= 10 }).count < 2 {
                        switch try await WebSocketTestClient.next(&reader) {
                        case .text(let text):
                            replies.append(text)
                        case .binary(let message):
                            let frame = try #require(WebSocketTestClient.parse(message))
                            let size = try #require(jpegDimensions(frame.jpeg), "not a whole JPEG")
                            let expected = MultiStreamTests.sizes[frame.name]
                            #expect(expected != nil && size.width == expected!.0 && size.height == expected!.1, "\(frame.name)")
                            #expect(frame.capturedAt >= lastCapture[frame.name] ?? 0)
                            #expect(abs(frame.capturedAt - Date().timeIntervalSince1970) < 5)
                            lastCapture[frame.name] = frame.capturedAt
                            seen[frame.name, default: 0] += 1
                        case .close:
                            Issue.record("the server closed the WebSocket")
                            return
                        }
                    }
                    #expect(Set(seen.keys) == ["small", "wide"])
                    #expect(replies.contains { $0.contains("nope") }, "unknown names are reported")
                    #expect((try await MultiStreamTests.clients(server, "small")) == 1)
                    #expect((try await MultiStreamTests.clients(server, "medium")) == 0)

                    // Narrowing the set stops the other stream (its client count drops).
                    try await WebSocketTestClient.sendText(#"{"streams": ["medium"]}"#, on: reader)
                    try await eventually(5, "the wall's client moved to medium") {
                        let small = try await MultiStreamTests.clients(server, "small")
                        let medium = try await MultiStreamTests.clients(server, "medium")
                        return small == 0 && medium == 1
                    }
                    var mediumFrames = 0
                    while mediumFrames < 5 {
                        if case .binary(let message) = try await WebSocketTestClient.next(&reader),
                            WebSocketTestClient.parse(message)?.name == "medium"
                        {
                            mediumFrames += 1
                        }
                    }
                }
                // Closing the WebSocket releases its streams.
                try await eventually(5, "the wall's streams released") {
                    try await MultiStreamTests.clients(server, "medium") == 0
                }
            }
        }
    }

    @Test func aWallClientThatStopsReadingSkipsFramesAndSlowsNobody() async throws {
        // Noise: ~100 KB frames at 30 fps, so a client that reads nothing falls behind within seconds.
        let noisy = "videotestsrc is-live=true pattern=snow ! video/x-raw,width=640,height=360,framerate=30/1 ! jpegenc quality=90 ! appsink name=sink"
        try await TestServer.run(pipeline: noisy) { server in
            try await withDeadline(40, "a stalled wall client beside a stream client") {
                let stalled = try StalledClient(
                    port: server.port, request: WebSocketTestClient.upgradeRequest() + WebSocketTestClient.textFrame(#"{"streams": ["main"]}"#))
                try await eventually(5, "the wall client counted") { try await MultiStreamTests.clients(server, "main") == 1 }
                try await eventually(20, "frames skipped for the stalled wall client") {
                    let metrics = try await MetricsText(server: server)
                    return (metrics.value("framecast_frames_skipped_total", ["stream": "main"]) ?? 0) > 10
                }
                // A stream client of the same stream keeps the full rate meanwhile.
                let rate = try await server.stream { reader, parts in
                    try await MultiStreamTests.measureRate(&reader, &parts, seconds: 3)
                }
                #expect(rate >= 24, "stream client got \(rate) fps beside a stalled wall client")
                _ = stalled
            }
        }
    }
}

extension MultiStreamTests {
    static func clients(_ server: TestServer, _ name: String) async throws -> Int {
        let body = try await server.get("/api/streams/\(name)").1
        return (try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["clients"] as? Int ?? -1
    }
}

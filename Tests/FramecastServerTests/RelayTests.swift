import FramecastServer
import Foundation
import NIOCore
import Testing

/// Relay streams: an edge Framecast reading an origin's stream (or another MJPEG server's) and
/// passing its frames through untouched, one connection per stream, only while it has viewers.
@Suite(.serialized)
struct RelayTests {
    static let pattern = TestPipelines.pattern(width: 160, height: 120, fps: "20/1")

    /// An edge in this process relaying `origin`'s `path` as stream `cam`.
    static func withEdge<T: Sendable>(
        relaying url: String, configure: @escaping @Sendable (inout ServerConfiguration) -> Void = { _ in },
        _ body: @escaping @Sendable (TestServer) async throws -> T
    ) async throws -> T {
        try await TestServer.run(pipeline: pattern, configure: { configuration in
            configuration.streams = [StreamDefinition(name: "cam", pipeline: "relay:\(url)")]
            configure(&configuration)
        }, body)
    }

    static func streams(_ server: TestServer) async throws -> [[String: Any]] {
        let (_, body) = try await server.get("/api/streams")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        return try #require(json["streams"] as? [[String: Any]])
    }

    /// Viewers of the edge get the origin's frames byte for byte, with the origin's capture time,
    /// over one connection to the origin whatever their number.
    @Test func framesPassThroughUntouchedOverOneConnectionPerStream() async throws {
        try await TestServer.run(pipeline: Self.pattern) { origin async throws in
            try await Self.withEdge(relaying: "http://127.0.0.1:\(origin.port)/stream/main") { edge async throws in
                // The origin's frames by capture time, read beside the edge's viewers.
                try await withThrowingTaskGroup(of: [ReceivedPart].self) { group in
                    group.addTask {
                        try await origin.stream(query: "?framing=length") { reader, parts in
                            var received: [ReceivedPart] = []
                            while received.count < 40, let part = try await parts.nextFrame(&reader) { received.append(part) }
                            return received
                        }
                    }
                    for _ in 0..<3 {
                        group.addTask {
                            try await edge.stream(path: "/stream/cam", query: "?framing=length") { reader, parts in
                                var received: [ReceivedPart] = []
                                while received.count < 20, let part = try await parts.nextFrame(&reader) { received.append(part) }
                                return received
                            }
                        }
                    }
                    // While all watch: the origin serves its own reader and the edge's one connection.
                    try await eventually(10, "the origin's two clients") {
                        try await origin.status()["clients"] as? Int == 2
                    }
                    var all: [[ReceivedPart]] = []
                    for try await parts in group { all.append(parts) }
                    let originParts = try #require(all.max { $0.count < $1.count })
                    let byTimestamp = Dictionary(originParts.compactMap { part in part.timestamp.map { ($0, part.body) } }) { first, _ in first }
                    var matched = 0
                    for viewer in all where viewer.count == 20 {
                        for part in viewer {
                            let timestamp = try #require(part.timestamp, "every relayed part carries the origin's X-Timestamp")
                            if let original = byTimestamp[timestamp] {
                                #expect(original == part.body, "frame \(timestamp) differs")
                                matched += 1
                            }
                        }
                    }
                    #expect(matched >= 30, "\(matched) relayed frames matched the origin's by capture time")
                }
                let cam = try #require(try await Self.streams(edge).first)
                let relay = try #require(cam["relay"] as? [String: Any])
                #expect(relay["upstream"] as? String == "http://127.0.0.1:\(origin.port)/stream/main")
                #expect(relay["connections"] as? Int == 1)
                #expect((relay["addedLatencyMilliseconds"] as? Double).map { $0 >= 0 && $0 < 500 } == true, "\(relay)")
            }
        }
    }

    /// With no viewer the edge holds no connection to the origin once its idle timeout passes.
    @Test func anEdgeWithoutViewersLetsGoOfTheOrigin() async throws {
        try await TestServer.run(pipeline: Self.pattern) { origin async throws in
            try await Self.withEdge(relaying: "http://127.0.0.1:\(origin.port)/stream/main", configure: { $0.stream.idleTimeout = 1 }) { edge async throws in
                #expect(try await origin.status()["clients"] as? Int == 0)
                try await edge.stream(path: "/stream/cam") { reader, parts in _ = try #require(try await parts.nextFrame(&reader)) }
                try await eventually(10, "the edge to let go of the origin") {
                    try await origin.status()["clients"] as? Int == 0
                }
                let relay = try #require(try await Self.streams(edge).first?["relay"] as? [String: Any])
                #expect(relay["state"] as? String == "idle")
            }
        }
    }

    /// The origin restarts: the edge's viewer sees NO SIGNAL, then real frames within 2 s of the
    /// origin's return, on the same connection.
    @Test func anOriginThatRestartsIsRelayedAgainWithinTwoSeconds() async throws {
        let port = try FramecastProcess.freePort()
        let origin = try await FramecastProcess.serve(port: port, ["--pipeline", Self.pattern])
        defer { origin.terminate() }
        try await Self.withEdge(relaying: "http://127.0.0.1:\(port)/stream/main") { edge async throws in
            try await edge.stream(path: "/stream/cam", query: "?framing=length") { reader, parts in
                _ = try #require(try await parts.nextFrame(&reader))
                origin.terminate()
                try await origin.waitForExit(timeout: 10)
                // NO SIGNAL while it is away.
                while let part = try await parts.next(&reader), !part.isPlaceholder {}
                let restarted = try await FramecastProcess.serve(port: port, ["--pipeline", Self.pattern])
                defer { restarted.terminate() }
                let back = Date()
                _ = try #require(try await parts.nextFrame(&reader))
                #expect(Date().timeIntervalSince(back) < 2, "real frames \(Date().timeIntervalSince(back)) s after the origin answered again")
            }
        }
    }

    /// The origin is up but its camera fails: its NO SIGNAL reaches the edge's viewers marked as
    /// NO SIGNAL (`X-Placeholder`), not as a frame of the camera.
    @Test func theOriginsNoSignalIsRelayedAsNoSignal() async throws {
        // A camera that stops after half a second: the origin restarts it with back-off, its
        // viewers (the edge) get NO SIGNAL meanwhile.
        let failing = "videotestsrc is-live=true pattern=ball num-buffers=10 ! video/x-raw,width=160,height=120,framerate=20/1 ! jpegenc ! appsink name=sink"
        try await TestServer.run(pipeline: failing) { origin async throws in
            try await Self.withEdge(relaying: "http://127.0.0.1:\(origin.port)/stream/main") { edge async throws in
                let marked = try await withDeadline(15, "the origin's NO SIGNAL marked on the edge") {
                    try await edge.stream(path: "/stream/cam", query: "?framing=length") { reader, parts in
                        // Real frames first (the edge's own STARTING picture may come before them).
                        var frames = 0
                        while let part = try await parts.next(&reader) {
                            if !part.isPlaceholder {
                                frames += 1
                            } else if frames > 0 {
                                return part
                            }
                        }
                        throw HTTPTestError.closed("reading the edge's stream")
                    }
                }
                #expect(marked.headers["x-placeholder"] == "no-signal")
                #expect(marked.timestamp != nil)
                #expect(jpegDimensions(marked.body).map { $0.width == 160 && $0.height == 120 } == true)
            }
        }
    }

    /// Another MJPEG server than Framecast: parts without Content-Length, a quoted boundary
    /// with its dashes, as some IP cameras send (a small server in Python).
    @Test func aServerWithoutLengthsOrTimestampsIsRelayedToo() async throws {
        let jpeg = try await TestServer.run(pipeline: Self.pattern) { origin async throws in try await origin.get("/snapshot").1 }
        let directory = try TemporaryDirectory("relaycam")
        let picture = directory.file("frame.jpg")
        try Data(jpeg).write(to: URL(fileURLWithPath: picture))
        let port = try FramecastProcess.freePort()
        let script = """
            import http.server, sys, time
            frame = open(sys.argv[2], 'rb').read()
            class Camera(http.server.BaseHTTPRequestHandler):
                def do_GET(self):
                    self.send_response(200)
                    self.send_header('Content-Type', 'multipart/x-mixed-replace; boundary="--myboundary"')
                    self.end_headers()
                    try:
                        while True:
                            self.wfile.write(b'--myboundary\\r\\nContent-Type: image/jpeg\\r\\n\\r\\n' + frame + b'\\r\\n')
                            self.wfile.flush()
                            time.sleep(0.05)
                    except Exception:
                        pass
                def log_message(self, *args):
                    pass
            http.server.ThreadingHTTPServer(('127.0.0.1', int(sys.argv[1])), Camera).serve_forever()
            """
        let camera = ChildProcess("/usr/bin/python3", ["-c", script, String(port), picture])
        try camera.run()
        defer { camera.signal(SIGKILL) }
        try await Self.withEdge(relaying: "http://127.0.0.1:\(port)/video.mjpg") { edge async throws in
            try await eventually(10, "the camera server") {
                (try? await edge.stream(path: "/stream/cam", query: "?framing=length") { reader, parts in
                    var bodies: [[UInt8]] = []
                    while bodies.count < 5, let part = try await parts.nextFrame(&reader) {
                        #expect(part.timestamp != nil, "the edge stamps frames that came without a capture time")
                        bodies.append(part.body)
                    }
                    return bodies.allSatisfy { $0 == jpeg }
                }) == true
            }
        }
    }

    /// Credentials in the relay URL are sent to the origin and shown nowhere; an origin that
    /// refuses them, or answers something else than a multipart stream, is the stream's error.
    @Test func credentialsAreUsedButNeverShownAndRefusalsAreTheStreamsError() async throws {
        try await TestServer.run(pipeline: Self.pattern, configure: { $0.access = try! AccessControl.single("edge:s3cret-pass") }) { origin async throws in
            let base = "127.0.0.1:\(origin.port)"
            try await TestServer.run(pipeline: Self.pattern, configure: { configuration in
                configuration.streams = [
                    StreamDefinition(name: "good", pipeline: "relay:http://edge:s3cret-pass@\(base)/stream/main"),
                    StreamDefinition(name: "refused", pipeline: "relay:http://edge:wrong-pass@\(base)/stream/main"),
                    StreamDefinition(name: "page", pipeline: "relay:http://edge:s3cret-pass@\(base)/api/status"),
                    StreamDefinition(name: "nobody", pipeline: "relay:http://127.0.0.1:1/stream/main"),
                ]
            }) { edge async throws in
                try await edge.stream(path: "/stream/good") { reader, parts in _ = try #require(try await parts.nextFrame(&reader)) }
                for name in ["refused", "page", "nobody"] {
                    // A viewer gets NO SIGNAL; the status says why.
                    try await edge.stream(path: "/stream/\(name)", query: "?framing=length") { reader, parts in
                        let part = try #require(try await parts.next(&reader))
                        #expect(part.isPlaceholder, "\(name)")
                    }
                }
                try await eventually(10, "every relay's state") {
                    let streams = try await Self.streams(edge)
                    return streams.filter { ($0["relay"] as? [String: Any])?["lastError"] != nil }.count == 3
                }
                let (_, body) = try await edge.get("/api/streams")
                let text = String(decoding: body, as: UTF8.self)
                #expect(!text.contains("s3cret-pass") && !text.contains("wrong-pass"))
                #expect(text.contains("edge:***@"))
                #expect(text.contains("401"))
                #expect(text.contains("not a multipart stream"))
            }
        }
    }

    /// `framecast --relay-all URL` mirrors every stream of an origin, and follows streams added
    /// there (a reload of the origin) within its interval.
    @Test func relayAllMirrorsTheOriginsStreamsAndFollowsItsChanges() async throws {
        let directory = try TemporaryDirectory("relayall")
        let configuration = directory.file("origin.yaml")
        func write(_ names: [String]) throws {
            let streams = names.map { "  \($0):\n    pipeline: \"\(Self.pattern)\"\n" }.joined()
            try "streams:\n\(streams)".write(toFile: configuration, atomically: true, encoding: .utf8)
        }
        try write(["front", "back"])
        let origin = try await FramecastProcess.serve(["--config", configuration])
        defer { origin.terminate() }
        let edge = try await FramecastProcess.serve(["--relay-all", "http://127.0.0.1:\(origin.port)", "--relay-all-interval", "1"])
        defer { edge.terminate() }
        func names() async throws -> [String] { try await Self.streams(edge.server).compactMap { $0["name"] as? String }.sorted() }
        #expect(try await names() == ["back", "front"])
        try await edge.server.stream(path: "/stream/front", query: "?framing=length") { reader, parts in
            let part = try #require(try await parts.nextFrame(&reader))
            #expect(part.timestamp != nil)
        }
        try write(["front", "back", "side"])
        kill(origin.process.processIdentifier, SIGHUP)
        try await eventually(15, "the origin's new stream on the edge") { try await names() == ["back", "front", "side"] }
        try write(["front"])
        kill(origin.process.processIdentifier, SIGHUP)
        try await eventually(15, "the origin's removed streams gone from the edge") { try await names() == ["front"] }
    }

    /// Relay URLs that cannot work are refused at start-up with the reason.
    @Test func unusableRelayURLsAreAStartUpError() async throws {
        for (url, reason) in [("ftp://origin/stream", "not an http"), ("http:///stream", "names no host"), ("http://origin:0/x", "out of range"), ("", "not an http")] {
            let result = try await FramecastProcess.runToExit(["--port", "0", "--stream", "cam=relay:\(url)"])
            #expect(result.status == 2 && result.error.contains(reason), "\(url): \(result.error)")
        }
        let result = try await FramecastProcess.runToExit(["--port", "0", "--relay-all", "http://127.0.0.1:1"], timeout: 30)
        #expect(result.status == 2 && result.error.contains("--relay-all"), "\(result.error)")
    }
}

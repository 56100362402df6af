import Foundation
import MediaPipeline
import Testing

@testable import FramecastServer

/// Renditions against a real 1280x720 pipeline and real HTTP and WebSocket clients: sizes,
/// one encoder per rendition whatever its viewers, lifecycle, limits, crops, failures and a slow
/// encoder.
@Suite(.serialized) struct RenditionTests {
    /// A still picture (SMPTE bars do not move), so that a crop can be compared with the source.
    static let bars = "videotestsrc is-live=true pattern=smpte ! video/x-raw,width=1280,height=720,framerate=15/1 ! jpegenc quality=90 ! appsink name=sink"
    static let moving = "videotestsrc is-live=true pattern=ball ! video/x-raw,width=1280,height=720,framerate=15/1 ! jpegenc ! appsink name=sink"

    /// The same source offering its raw pictures in I420 (renditions shrink those; no JPEG is decoded).
    static func offeringRaw(_ pipeline: String) -> String {
        pipeline
            .replacingOccurrences(of: "video/x-raw,", with: "video/x-raw,format=I420,")
            .replacingOccurrences(of: " ! jpegenc", with: " ! tee name=picture ! queue max-size-buffers=1 leaky=downstream ! jpegenc")
            + " picture. ! queue max-size-buffers=1 leaky=downstream ! appsink name=raw"
    }

    static func run<T: Sendable>(
        _ pipeline: String = bars, configure: @escaping (inout ServerConfiguration) -> Void = { _ in },
        _ body: @escaping @Sendable (TestServer) async throws -> T
    ) async throws -> T {
        try await TestServer.run(pipeline: pipeline, configure: { configuration in
            configuration.stream.idleTimeout = 1
            configure(&configuration)
        }, body)
    }

    static func json(_ server: TestServer, _ path: String) async throws -> [String: Any] {
        let (head, body) = try await server.get(path)
        guard head.status == 200, let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw HTTPTestError.malformed("\(path) answered \(head.status)")
        }
        return json
    }

    /// The live renditions of stream `main`.
    static func renditions(_ server: TestServer) async throws -> [[String: Any]] {
        try await json(server, "/api/streams/main")["renditions"] as? [[String: Any]] ?? []
    }

    /// Reads `count` real frames and checks each is a whole JPEG of `width` x `height` that decodes.
    static func frames(
        _ server: TestServer, _ path: String, _ query: String, count: Int, width: Int, height: Int
    ) async throws -> [ReceivedPart] {
        try await server.stream(path: path, query: query) { reader, parts in
            var received: [ReceivedPart] = []
            while received.count < count {
                let part = try #require(try await parts.nextFrame(&reader))
                let size = try #require(jpegDimensions(part.body), "not a whole JPEG")
                #expect(size.width == width && size.height == height, "\(path)\(query): \(size)")
                #expect(JPEGLuma.decode(part.body) != nil, "libjpeg cannot decode a frame of \(path)\(query)")
                received.append(part)
            }
            return received
        }
    }

    @Test(arguments: [false, true])
    func theSourceAndTwoRenditionsAtOnceEachAtItsSize(raw: Bool) async throws {
        try await Self.run(raw ? Self.offeringRaw(Self.moving) : Self.moving) { server in
            try await withDeadline(60, "three sizes at once") {
                async let full = Self.frames(server, "/stream/main", "", count: 10, width: 1280, height: 720)
                async let half = Self.frames(server, "/stream/main", "?width=640", count: 10, width: 640, height: 360)
                async let small = Self.frames(server, "/stream/main", "?width=320&quality=50", count: 10, width: 320, height: 180)
                let (fullFrames, _, smallFrames) = try await (full, half, small)
                // Quality 50 of a quarter-width picture is far smaller than the source's frames.
                let average = { (parts: [ReceivedPart]) in parts.map(\.body.count).reduce(0, +) / parts.count }
                #expect(average(smallFrames) * 8 < average(fullFrames))
            }
            let renditions = try await Self.renditions(server)
            // A new rendition's first picture may be the source's newest JPEG, decoded; then raw pictures.
            let inputs = renditions.compactMap { $0["input"] as? String }
            #expect(raw ? inputs.contains("raw") : (!inputs.isEmpty && inputs.allSatisfy { $0 == "jpeg" }), "\(inputs)")
            // The snapshot, the mjpg-streamer URL and the named form agree.
            let (head, body) = try await server.get("/snapshot/main?width=320")
            #expect(head.status == 200)
            #expect(jpegDimensions(body).map { [$0.width, $0.height] } == [320, 180])
            // Heights snap to 16 too: 360 would be 368 (and 654 wide).
            let (mjpgHead, mjpgBody) = try await server.get("/?action=snapshot&height=352")
            #expect(mjpgHead.status == 200)
            #expect(jpegDimensions(mjpgBody).map { [$0.width, $0.height] } == [626, 352])
        }
    }

    @Test func aRenditionsFramesCarryTheirSourceFramesCaptureTime() async throws {
        try await Self.run(Self.moving) { server in
            try await withDeadline(40, "source and rendition timestamps") {
                async let source = Self.frames(server, "/stream/main", "?framing=length", count: 30, width: 1280, height: 720)
                async let rendition = Self.frames(server, "/stream/main", "?width=320&framing=length", count: 10, width: 320, height: 180)
                let (sourceFrames, renditionFrames) = try await (source, rendition)
                let sourceStamps = Set(sourceFrames.compactMap { $0.headers["x-timestamp"] })
                let renditionStamps = renditionFrames.compactMap { $0.headers["x-timestamp"] }
                #expect(renditionStamps.count == 10)
                // Each of the rendition's frames is one of the source's, with its capture time:
                // most of them fall in the window the source's viewer saw.
                #expect(renditionStamps.filter(sourceStamps.contains).count >= 5, "\(renditionStamps) vs \(sourceStamps.sorted())")
            }
        }
    }

    @Test func fiftyViewersOfOneRenditionAreOneEncoder() async throws {
        try await Self.run { server in
            try await withDeadline(60, "50 viewers of one rendition") {
                let pipelinesBefore = Pipeline.liveCount
                // Widths 312 to 327 all snap to 320.
                try await Self.watching(server, (0..<50).map { "?width=\(312 + $0 % 16)" }) { () async throws in
                    let renditions = try await Self.renditions(server)
                    #expect(renditions.count == 1)
                    #expect(renditions.first?["clients"] as? Int == 50)
                    #expect(renditions.first?["width"] as? Int == 320)
                    // One pipeline for the source, one encoder for the rendition.
                    #expect(Pipeline.liveCount - pipelinesBefore <= 2)
                    #expect(try await Self.json(server, "/api/streams/main")["clients"] as? Int == 1, "the rendition is the source's one client")
                }
            }
        }
    }

    @Test func aRenditionStopsAfterTheIdleTimeoutThenItsSourceDoes() async throws {
        try await Self.run { server in
            try await withDeadline(40, "rendition then source idle") {
                _ = try await Self.frames(server, "/stream/main", "?width=320", count: 3, width: 320, height: 180)
                let pipelinesWithBoth = Pipeline.liveCount
                try await eventually(10, "the rendition gone") { try await Self.renditions(server).isEmpty }
                try await eventually(10, "the source idle") { try await server.state() == "idle" }
                try await eventually(10, "both pipelines freed") { Pipeline.liveCount <= pipelinesWithBoth - 2 }
            }
        }
    }

    @Test func oneRenditionMoreThanTheLimitIs503ListingThem() async throws {
        try await Self.run(configure: { $0.maxRenditions = 2 }) { server in
            try await withDeadline(40, "max renditions") {
                try await Self.watching(server, ["?width=320", "?width=640"]) { () async throws in
                    let (head, body) = try await server.get("/stream/main?width=480")
                    #expect(head.status == 503)
                    let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
                    #expect(json["renditions"] as? [String] == ["main@320x180q85", "main@640x360q85"])
                    // The source itself is always served.
                    let (sourceHead, _) = try await server.get("/snapshot/main")
                    #expect(sourceHead.status == 200)
                }
                // Once nobody watches them, they make room at once.
                let (head, _) = try await server.get("/snapshot/main?width=480")
                #expect(head.status == 200)
            }
        }
    }

    @Test(arguments: [false, true])
    func aCropIsThatRegionOfTheSource(raw: Bool) async throws {
        try await Self.run(raw ? Self.offeringRaw(Self.bars) : Self.bars) { server in
            try await withDeadline(40, "crop") {
                let (_, source) = try await server.get("/snapshot/main")
                let (head, cropped) = try await server.get("/snapshot/main?crop=320,200,640,360&quality=100")
                #expect(head.status == 200)
                let whole = try #require(JPEGLuma.decode(source))
                let region = try #require(JPEGLuma.decode(cropped))
                #expect(region.width == 640 && region.height == 360)
                func difference(x: Int, y: Int) -> Double {
                    var total = 0
                    for row in stride(from: 0, to: 360, by: 4) {
                        for column in stride(from: 0, to: 640, by: 4) {
                            total += abs(Int(region.luma[row * 640 + column]) - Int(whole.luma[(y + row) * whole.width + x + column]))
                        }
                    }
                    return Double(total) / Double(90 * 160)
                }
                let matching = difference(x: 320, y: 200)
                #expect(matching < 6, "the crop differs from its region by \(matching) per pixel")
                // The same comparison a bar's width away is far off: the test can tell regions apart.
                #expect(difference(x: 140, y: 200) > matching * 3 + 10)
            }
        }
    }

    @Test func aSourceFailureShowsNoSignalAtTheRenditionsSize() async throws {
        let failing = "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=480,framerate=30/1 ! identity error-after=40 ! jpegenc ! appsink name=sink"
        try await Self.run(failing) { server in
            try await withDeadline(40, "no signal at rendition size") {
                try await server.stream(path: "/stream/main", query: "?width=320&framing=length") { reader, parts in
                    var real = 0
                    var placeholders = 0
                    while placeholders < 2 || real < 3 {
                        let part = try #require(try await parts.next(&reader))
                        let size = try #require(jpegDimensions(part.body))
                        #expect(size.width == 320 && size.height == 240, "\(part.isPlaceholder ? "placeholder" : "frame") of \(size)")
                        if part.isPlaceholder { placeholders += 1 } else if placeholders > 0 { real += 1 }
                    }
                }
            }
        }
    }

    @Test func aSlowRenditionLowersItsOwnRateNotItsSources() async throws {
        let fast = "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=30/1 ! jpegenc ! appsink name=sink"
        try await Self.run(fast, configure: { $0.renditionEncoderDelayForTesting = 150_000 }) { server in
            try await withDeadline(60, "a slow rendition") {
                try await Self.watching(server, ["", "?width=160"]) { () async throws in
                    // Every rendition's encoder waits 150 ms a picture: at most ~7 fps.
                    try await eventually(20, "the rendition's rate measured") {
                        let rendition = try await Self.renditions(server).first
                        return (rendition?["fps"] as? Double ?? 0) > 0 && (rendition?["framesPublished"] as? Int ?? 0) > 15
                    }
                    let status = try await Self.json(server, "/api/streams/main")
                    let rendition = try #require((status["renditions"] as? [[String: Any]])?.first)
                    #expect((rendition["fps"] as? Double ?? 99) < 10)
                    #expect((status["fps"] as? Double ?? 0) > 24, "the source keeps its rate: \(status["fps"] ?? "-")")
                }
            }
        }
    }

    @Test func namedRenditionsHaveStableURLs() async throws {
        try await Self.run(configure: { $0.renditions = [NamedRendition(stream: nil, name: "thumb", request: RenditionRequest(width: 320, quality: 50))] }) { server in
            try await withDeadline(40, "named rendition") {
                _ = try await Self.frames(server, "/stream/main@thumb", "", count: 3, width: 320, height: 180)
                let (head, body) = try await server.get("/snapshot/main@thumb")
                #expect(head.status == 200 && jpegDimensions(body)?.width == 320)
                #expect(try await Self.renditions(server).first?["name"] as? String == "thumb")
                #expect(try await server.get("/stream/main@nope").0.status == 404)
                #expect(try await server.get("/stream/main@thumb?width=640").0.status == 400)
                #expect(try await server.get("/stream/nope@thumb").0.status == 404)
                // Asking for the whole picture at its own quality is the source itself: no encoder.
                let (wholeHead, wholeBody) = try await server.get("/snapshot/main?width=5000")
                #expect(wholeHead.status == 200 && jpegDimensions(wholeBody)?.width == 1280)
                #expect(try await Self.renditions(server).allSatisfy { $0["width"] as? Int != 1280 })
            }
        }
    }

    @Test func theWallSubscribesToRenditions() async throws {
        try await Self.run { server in
            try await withDeadline(40, "wall renditions") {
                try await withHTTPRequest(port: server.port, path: "/ws", headers: WebSocketTestClient.upgradeHeaders) { reader in
                    #expect(reader.head.status == 101)
                    try await WebSocketTestClient.sendText(#"{"streams": [{"name": "main", "width": 480}]}"#, on: reader)
                    var frames = 0
                    while frames < 5 {
                        guard case .binary(let message) = try await WebSocketTestClient.next(&reader) else { continue }
                        let frame = try #require(WebSocketTestClient.parse(message))
                        #expect(frame.name == "main@480x270q85")
                        #expect(jpegDimensions(frame.jpeg).map { [$0.width, $0.height] } == [480, 270])
                        frames += 1
                    }
                    // A bad rendition falls back to the stream itself, with the reason.
                    try await WebSocketTestClient.sendText(#"{"streams": [{"name": "main", "width": 1e300}]}"#, on: reader)
                    var refused = false
                    var fullSize = 0
                    while !refused || fullSize < 2 {
                        switch try await WebSocketTestClient.next(&reader) {
                        case .text(let text):
                            #expect(text.contains("width must be"))
                            refused = true
                        case .binary(let message):
                            if WebSocketTestClient.parse(message)?.name == "main" { fullSize += 1 }
                        case .close:
                            Issue.record("closed")
                            return
                        }
                    }
                }
            }
        }
    }

    /// Renditions come and go by the hundred without leaving pipelines, descriptors or tasks behind.
    @Test func hundredsOfRenditionsComeAndGoWithoutALeak() async throws {
        try await Self.run(configure: {
            $0.stream.idleTimeout = 0
            $0.maxRenditions = 2
            $0.renditionCreationsPerSecond = 1000
        }) { server in
            try await withDeadline(120, "rendition cycles") {
                func descriptors() -> Int { (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? 0 }
                // Warm up: the first rendition loads the plugins and the event loops' buffers.
                _ = try await server.get("/snapshot/main?width=160")
                try await eventually(10, "warm-up rendition gone") { try await Self.renditions(server).isEmpty }
                let pipelines = Pipeline.liveCount
                let files = descriptors()
                for cycle in 0..<120 {
                    // A new geometry every time (widths 16...1280 by 16, qualities 1...100).
                    let (head, _) = try await server.get("/snapshot/main?width=\(16 + cycle % 60 * 16)&quality=\(1 + cycle % 97)")
                    #expect(head.status == 200, "cycle \(cycle)")
                }
                try await eventually(20, "every rendition gone") { try await Self.renditions(server).isEmpty }
                try await eventually(20, "pipelines back to the baseline") { Pipeline.liveCount <= pipelines }
                try await eventually(10, "descriptors back to the baseline") { descriptors() <= files + 4 }
            }
        }
    }

    // MARK: - What a hostile review broke

    /// Holds a viewer of /stream/main open for each of `queries` (each has had a frame) until
    /// `body` returns.
    static func watching<T: Sendable>(_ server: TestServer, _ queries: [String], _ body: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withThrowingTaskGroup(of: T?.self) { group in
            let (ready, readySink) = AsyncStream<Void>.makeStream()
            for query in queries {
                group.addTask {
                    try await server.stream(path: "/stream/main", query: query) { reader, parts in
                        _ = try #require(try await parts.nextFrame(&reader))
                        readySink.yield()
                        while try await parts.next(&reader) != nil {}
                    }
                    return nil
                }
            }
            var count = 0
            for await _ in ready {
                count += 1
                if count == queries.count { break }
            }
            let result = try await body()
            group.cancelAll()
            return result
        }
    }

    @Test func makingRoomStopsOneRenditionTheOneIdleLongestAndNamedOnesNeedNoRoom() async throws {
        try await Self.run(configure: {
            $0.maxRenditions = 2
            $0.stream.idleTimeout = 30
            $0.renditions = [NamedRendition(stream: nil, name: "thumb", request: RenditionRequest(width: 320))]
        }) { server in
            try await withDeadline(40, "eviction") {
                for width in [64, 96, 128] {
                    #expect(try await server.get("/snapshot/main?width=\(width)").0.status == 200)
                }
                let names = try await Self.renditions(server).compactMap { $0["stream"] as? String }.sorted()
                #expect(names == ["main@128x72q85", "main@96x54q85"], "\(names)")
                // Two renditions with viewers: an ad-hoc third is refused, the named one is served.
                try await Self.watching(server, ["?width=64", "?width=96"]) { () async throws in
                    #expect(try await server.get("/snapshot/main?width=160").0.status == 503)
                    #expect(try await server.get("/snapshot/main@thumb").0.status == 200)
                    // Percent-encoded, as encodeURIComponent writes it.
                    #expect(try await server.get("/snapshot/main%40thumb").0.status == 200)
                }
            }
        }
    }

    @Test func aRenditionNobodyWatchesEncodesNothingAndRenditionsAreMadeAtABoundedRate() async throws {
        try await Self.run(configure: { $0.stream.idleTimeout = 30; $0.maxRenditions = 64 }) { server in
            try await withDeadline(40, "unwatched rendition") {
                #expect(try await server.get("/snapshot/main?width=160").0.status == 200)
                let published = { try await Self.renditions(server).first?["framesPublished"] as? Int ?? -1 }
                try await eventually(5, "the snapshot's rendition unwatched") { try await Self.renditions(server).first?["clients"] as? Int == 0 }
                let before = try await published()
                // 1.5 s at 15 fps: nothing is encoded for nobody, and it is not counted as stalled.
                try await eventually(5, "a second of source frames") {
                    (try await Self.json(server, "/api/streams/main")["framesPublished"] as? Int ?? 0) > 25
                }
                #expect(try await published() == before)
                #expect(try await Self.renditions(server).first?["state"] as? String == "playing")

                // A burst of new sizes: 8 are made at once, then about 2 a second.
                var statuses: [Int] = []
                for width in stride(from: 176, through: 176 + 16 * 11, by: 16) {
                    statuses.append(Int(try await server.get("/snapshot/main?width=\(width)").0.status))
                }
                #expect(statuses.filter { $0 == 503 }.count >= 1, "\(statuses)")
                #expect(statuses.filter { $0 == 200 }.count >= 7, "\(statuses)")
            }
        }
    }

    @Test func offRenditionsAreA400AndTheSourceStaysIdle() async throws {
        try await Self.run(configure: { $0.maxRenditions = 0 }) { server in
            let (head, body) = try await server.get("/stream/main?width=320")
            #expect(head.status == 400)
            #expect(String(decoding: body, as: UTF8.self).contains("--max-renditions 0"))
            #expect(try await server.state() == "idle")
        }
    }

    /// A YUY2 source that tees its raw pictures: the stream plays (the raw appsink does not force
    /// I420) and its renditions decode the JPEGs instead.
    @Test func aRawBranchInAnotherFormatFallsBackToTheJPEGs() async throws {
        let yuy2 =
            "videotestsrc is-live=true pattern=ball ! video/x-raw,format=YUY2,width=640,height=360,framerate=15/1 ! tee name=picture "
            + "! queue max-size-buffers=1 leaky=downstream ! jpegenc ! appsink name=sink "
            + "picture. ! queue max-size-buffers=1 leaky=downstream ! appsink name=raw"
        try await Self.run(yuy2) { server in
            try await withDeadline(30, "YUY2 raw branch") {
                _ = try await Self.frames(server, "/stream/main", "", count: 3, width: 640, height: 360)
                _ = try await Self.frames(server, "/stream/main", "?width=320", count: 3, width: 320, height: 180)
                try await eventually(5, "status says jpeg") { try await Self.renditions(server).first?["input"] as? String == "jpeg" }
            }
        }
    }

    /// A network camera's multipartdemux gives caps without a size: the JPEG header says it.
    @Test func aSourceWhoseCapsCarryNoSizeStillHasRenditions() async throws {
        let demuxed = "videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate=15/1 ! jpegenc ! multipartmux ! multipartdemux ! image/jpeg ! appsink name=sink"
        try await Self.run(demuxed) { server in
            try await withDeadline(30, "sizeless caps") {
                let (head, body) = try await server.get("/snapshot/main?width=160")
                #expect(head.status == 200)
                #expect(jpegDimensions(body).map { [$0.width, $0.height] } == [160, 120])
                #expect(try await Self.json(server, "/api/streams/main")["width"] as? Int == 320)
            }
        }
    }

    /// A wall tile moving to a new size when the set is full: its own old rendition makes room.
    @Test func aWallTileResizesInAFullSet() async throws {
        try await Self.run(configure: { $0.maxRenditions = 1 }) { server in
            try await withDeadline(40, "wall resize in a full set") {
                try await withHTTPRequest(port: server.port, path: "/ws", headers: WebSocketTestClient.upgradeHeaders) { reader in
                    for (width, name) in [(160, "main@160x90q85"), (320, "main@320x180q85")] {
                        try await WebSocketTestClient.sendText(#"{"streams": [{"name": "main", "width": \#(width)}]}"#, on: reader)
                        var seen = 0
                        while seen < 3 {
                            switch try await WebSocketTestClient.next(&reader) {
                            case .binary(let message):
                                if WebSocketTestClient.parse(message)?.name == name { seen += 1 }
                            case .text(let text):
                                Issue.record("refused: \(text)")
                                return
                            case .close:
                                Issue.record("closed")
                                return
                            }
                        }
                    }
                }
            }
        }
    }
}

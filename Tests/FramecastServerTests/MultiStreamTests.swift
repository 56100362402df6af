import Foundation
import FramecastServer
import Testing

/// Several streams in one server: routes, independence, mjpg-streamer URLs, per-client controls,
/// metrics.
@Suite(.serialized) struct MultiStreamTests {
    static let three = [
        StreamDefinition(name: "small", pipeline: TestPipelines.pattern(width: 160, height: 120)),
        StreamDefinition(name: "medium", pipeline: TestPipelines.pattern(width: 320, height: 240)),
        StreamDefinition(name: "wide", pipeline: TestPipelines.pattern(width: 640, height: 360)),
    ]
    static let sizes = ["small": (160, 120), "medium": (320, 240), "wide": (640, 360)]

    static func runThree<T: Sendable>(_ body: @escaping @Sendable (TestServer) async throws -> T) async throws -> T {
        try await TestServer.run(pipeline: "", configure: { $0.streams = three }, body)
    }

    @Test func threeStreamsOfDifferentSizesAtOnceFrameByFrame() async throws {
        try await Self.runThree { server in
            try await withDeadline(40, "three streams") {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (name, size) in Self.sizes {
                        group.addTask {
                            try await server.stream(path: "/stream/\(name)") { reader, parts in
                                var last = 0.0
                                for _ in 0..<20 {
                                    let part = try #require(try await parts.next(&reader))
                                    let dimensions = try #require(jpegDimensions(part.body))
                                    #expect(dimensions.width == size.0 && dimensions.height == size.1, "\(name)")
                                    #expect(part.contentLength == part.body.count)
                                    #expect(part.timestamp! > last)
                                    last = part.timestamp!
                                }
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let (head, body) = try await server.get("/api/streams")
                #expect(head.status == 200)
                let list = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
                let streams = try #require(list["streams"] as? [[String: Any]])
                #expect(streams.map { $0["name"] as? String } == ["medium", "small", "wide"])
                for stream in streams {
                    let size = Self.sizes[stream["name"] as! String]!
                    #expect(stream["width"] as? Int == size.0)
                    #expect(stream["state"] != nil && stream["pipeline"] != nil && stream["fps"] != nil)
                }
                let one = try JSONSerialization.jsonObject(with: Data(try await server.get("/api/streams/wide").1)) as? [String: Any]
                #expect(one?["height"] as? Int == 360)
            }
        }
    }

    @Test func unknownStreamNamesAre404WithTheKnownNames() async throws {
        try await Self.runThree { server in
            for path in ["/stream/nope", "/snapshot/nope", "/api/streams/nope"] {
                let (head, body) = try await server.get(path)
                #expect(head.status == 404, "\(path)")
                let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
                #expect(json["streams"] as? [String] == ["medium", "small", "wide"])
            }
        }
    }

    @Test func theFirstStreamInNameOrderAnswersThePlainRoutes() async throws {
        try await Self.runThree { server in
            try await withDeadline(20, "plain routes") {
                let (head, body) = try await server.get("/snapshot")
                #expect(head.status == 200)
                #expect(jpegDimensions(body)?.width == 320)
                try await server.stream { reader, parts in
                    let part = try #require(try await parts.next(&reader))
                    #expect(jpegDimensions(part.body)?.width == 320)
                }
                #expect(try await server.status()["name"] as? String == "medium")
            }
        }
    }

    @Test func mjpgStreamerURLs() async throws {
        try await Self.runThree { server in
            try await withDeadline(30, "mjpg-streamer URLs") {
                // _N counts from 0 in name order: medium, small, wide.
                for (action, width) in [("stream", 320), ("stream_0", 320), ("stream_1", 160), ("stream_2", 640)] {
                    try await server.stream(path: "/?action=\(action)") { reader, parts in
                        let part = try #require(try await parts.next(&reader))
                        #expect(jpegDimensions(part.body)?.width == width, "\(action)")
                    }
                }
                for (action, width) in [("snapshot", 320), ("snapshot_1", 160), ("snapshot_2", 640)] {
                    let (head, body) = try await server.get("/?action=\(action)")
                    #expect(head.status == 200)
                    #expect(head.header("content-type") == "image/jpeg")
                    #expect(jpegDimensions(body)?.width == width, "\(action)")
                }
                #expect(try await server.get("/?action=stream_3").0.status == 404)
                #expect(try await server.get("/?action=dance").0.status == 400)
                #expect(try await server.get("/").0.status == 200)
            }
        }
    }

    @Test func oneFailingStreamDoesNotSlowTheOthers() async throws {
        let streams = [
            StreamDefinition(name: "broken", pipeline: TestPipelines.pattern(width: 160, height: 120, extra: "! identity error-after=10")),
            StreamDefinition(name: "good1", pipeline: TestPipelines.pattern(width: 160, height: 120)),
            StreamDefinition(name: "good2", pipeline: TestPipelines.pattern(width: 160, height: 120)),
        ]
        try await TestServer.run(pipeline: "", configure: { $0.streams = streams }) { server in
            try await withDeadline(40, "good streams beside a failing one") {
                try await withThrowingTaskGroup(of: Double?.self) { group in
                    group.addTask {
                        // Keeps the broken stream wanted, so it fails and restarts throughout.
                        try await server.stream(path: "/stream/broken") { reader, parts in
                            try await eventually(15, "a restart of the broken stream") {
                                _ = try await parts.next(&reader)
                                let restarts = try await Self.restarts(server, "broken")
                                return restarts >= 2
                            }
                        }
                        return nil
                    }
                    for name in ["good1", "good2"] {
                        group.addTask {
                            try await server.stream(path: "/stream/\(name)") { reader, parts in
                                _ = try await parts.next(&reader)
                                let first = try #require(try await parts.next(&reader))
                                var last = first
                                for _ in 0..<90 { last = try #require(try await parts.next(&reader)) }
                                return 90 / (last.timestamp! - first.timestamp!)
                            }
                        }
                    }
                    for try await rate in group {
                        if let rate { #expect(rate >= 24, "a good stream ran at \(rate) fps") }
                    }
                }
                #expect(try await Self.restarts(server, "good1") == 0)
                #expect(try await Self.restarts(server, "good2") == 0)
            }
        }
    }

    static func restarts(_ server: TestServer, _ name: String) async throws -> Int {
        let body = try await server.get("/api/streams/\(name)").1
        return (try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])?["restarts"] as? Int ?? -1
    }

    @Test func fpsCapsOneClientWhileAnotherGetsTheFullRate() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120)) { server in
            try await withDeadline(40, "capped and uncapped clients") {
                async let capped = server.stream(query: "?fps=5") { reader, parts in
                    try await Self.measureRate(&reader, &parts, seconds: 4)
                }
                async let full = server.stream { reader, parts in
                    try await Self.measureRate(&reader, &parts, seconds: 4)
                }
                let (cappedRate, fullRate) = try await (capped, full)
                #expect(cappedRate <= 5.25 && cappedRate >= 4, "capped client got \(cappedRate) fps")
                #expect(fullRate >= 24, "uncapped client got \(fullRate) fps")
                for bad in ["0", "-1", "abc", "1e9", "nan"] {
                    let (head, body) = try await server.get("/stream?fps=\(bad)")
                    #expect(head.status == 400, "fps=\(bad)")
                    #expect(String(decoding: body, as: UTF8.self).contains("fps"))
                }
            }
        }
    }

    /// Frames per second received over a window of `seconds`, by arrival time.
    static func measureRate(_ reader: inout ResponseReader, _ parts: inout MultipartStreamReader, seconds: Double) async throws -> Double {
        _ = try #require(try await parts.next(&reader))
        let first = try #require(try await parts.next(&reader))
        var count = 0
        var last = first
        while last.receivedAt - first.receivedAt < seconds {
            last = try #require(try await parts.next(&reader))
            count += 1
        }
        return Double(count) / (last.receivedAt - first.receivedAt)
    }

    @Test func snapshotMaxAge() async throws {
        // Two frames a second: the newest frame is up to half a second old.
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120, fps: "2/1")) { server in
            try await withDeadline(30, "max_age snapshots") {
                try await server.stream { reader, parts in
                    _ = try #require(try await parts.next(&reader))
                    // A generous max_age returns the newest frame at once.
                    var asked = Date().timeIntervalSince1970
                    var (head, body) = try await server.get("/snapshot/main?max_age=10000")
                    #expect(head.status == 200 && jpegDimensions(body) != nil)
                    let newest = try #require(head.header("x-timestamp").flatMap(Double.init))
                    #expect(newest <= asked + 0.01)
                    #expect(Date().timeIntervalSince1970 - asked < 0.3, "a fresh-enough frame was waited for")
                    // max_age=0 waits for a frame captured after the request.
                    asked = Date().timeIntervalSince1970
                    (head, body) = try await server.get("/snapshot/main?max_age=0")
                    #expect(head.status == 200 && jpegDimensions(body) != nil)
                    #expect(try #require(head.header("x-timestamp").flatMap(Double.init)) >= asked - 0.005)
                    // max_age=100 gives a frame at most 100 ms older than the request.
                    asked = Date().timeIntervalSince1970
                    (head, _) = try await server.get("/snapshot/main?max_age=100")
                    #expect(try #require(head.header("x-timestamp").flatMap(Double.init)) >= asked - 0.105)
                    for bad in ["-1", "soon", "1.5"] {
                        #expect(try await server.get("/snapshot/main?max_age=\(bad)").0.status == 400, "max_age=\(bad)")
                    }
                }
            }
        }
    }

    @Test func warmupFramesAreCapturedButNeverServed() async throws {
        let finite = "videotestsrc num-buffers=25 ! video/x-raw,width=160,height=120,framerate=30/1 ! jpegenc ! appsink name=sink"
        try await TestServer.run(pipeline: finite, configure: {
            $0.stream.warmupFrames = 10
            $0.stream.alwaysOn = true
        }) { server in
            // Between the end-of-stream and the restart, the counts stand still for a second.
            try await eventually(15, "25 frames captured, 15 served") {
                let metrics = try await MetricsText(server: server)
                let published = try await server.status()["framesPublished"] as? Int
                return metrics.value("framecast_frames_captured_total", ["stream": "main"]) == 25 && published == 15
            }
        }
    }

    @Test func metricsAgreeWithWhatClientsReceived() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120)) { server in
            try await withDeadline(30, "metrics") {
                let (received, bytes) = try await server.stream { reader, parts in
                    var bytes = 0
                    for _ in 0..<30 { bytes += try #require(try await parts.next(&reader)).body.count }
                    return (30, bytes)
                }
                try await eventually(5, "the client gauge back to 0") {
                    try await MetricsText(server: server).value("framecast_clients", ["stream": "main"]) == 0
                }
                let metrics = try await MetricsText(server: server)
                let stream = ["stream": "main"]
                let sent = try #require(metrics.value("framecast_frames_sent_total", stream))
                let captured = try #require(metrics.value("framecast_frames_captured_total", stream))
                let sentBytes = try #require(metrics.value("framecast_bytes_sent_total", stream))
                #expect(sent >= Double(received))
                #expect(captured >= sent - 2, "sent \(sent) of \(captured) captured (repeats aside)")
                #expect(sentBytes >= Double(bytes))
                #expect(metrics.value("framecast_pipeline_restarts_total", stream) == 0)
                #expect(metrics.value("framecast_pipeline_state", ["stream": "main", "state": "playing"]) == 1)
                #expect(metrics.value("framecast_pipeline_state", ["stream": "main", "state": "idle"]) == 0)
                #expect((metrics.value("framecast_frame_delivery_seconds_count", stream) ?? 0) >= Double(received))
                #expect(metrics.value("framecast_frames_skipped_total", stream) != nil)
            }
        }
    }
}

/// `/metrics` in the Prometheus text format, parsed: `name{label="value",...} number`.
struct MetricsText {
    var samples: [(name: String, labels: [String: String], value: Double)] = []

    init(server: TestServer) async throws {
        let (head, body) = try await server.get("/metrics")
        guard head.status == 200, head.header("content-type")?.hasPrefix("text/plain") == true else {
            throw HTTPTestError.malformed("/metrics answered \(head.status)")
        }
        for line in String(decoding: body, as: UTF8.self).split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                throw HTTPTestError.malformed("metrics line \(line)")
            }
            let series = line[..<space]
            var labels: [String: String] = [:]
            var name = String(series)
            if let brace = series.firstIndex(of: "{") {
                name = String(series[..<brace])
                for pair in series[series.index(after: brace)..<series.index(before: series.endIndex)].split(separator: ",") {
                    let parts = pair.split(separator: "=", maxSplits: 1)
                    labels[String(parts[0])] = parts.count > 1 ? String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\"")) : ""
                }
            }
            samples.append((name, labels, value))
        }
    }

    func value(_ name: String, _ labels: [String: String]) -> Double? {
        samples.first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
    }
}

import Foundation
import FramecastServer
import Testing

/// `/stream` in both framings, against a real pipeline and a real socket.
@Suite(.serialized) struct StreamFramingTests {
    /// Both ways of sending (a memory file with sendfile, and plain writes) carry the same stream.
    @Test(arguments: [true, false])
    func lengthFramingCarriesValidJPEGsWithLengthsAndIncreasingTimestamps(sendfile: Bool) async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 320, height: 240), configure: { $0.sendfile = sendfile }) { server in
            try await withDeadline(20, "ten frames in length framing") {
                try await server.stream { reader, parts in
                    #expect(reader.head.header("content-type") == "multipart/x-mixed-replace; boundary=framecast")
                    #expect(reader.head.header("cache-control")?.contains("no-store") == true)
                    #expect(reader.head.header("x-accel-buffering") == "no")
                    var last = 0.0
                    for _ in 0..<10 {
                        let part = try #require(try await parts.next(&reader))
                        #expect(part.headers["content-type"] == "image/jpeg")
                        #expect(part.contentLength == part.body.count)
                        let size = try #require(jpegDimensions(part.body), "not a whole JPEG")
                        #expect(size.width == 320 && size.height == 240)
                        let timestamp = try #require(part.timestamp)
                        #expect(timestamp > last)
                        #expect(abs(timestamp - Date().timeIntervalSince1970) < 5)
                        last = timestamp
                    }
                }
            }
        }
    }

    @Test func browsersGetEarlyFramingByteForByte() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120)) { server in
            try await withDeadline(20, "frames in early framing") {
                let browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0 Safari/537.36"
                try await withHTTPRequest(port: server.port, path: "/stream", headers: ["User-Agent": browser]) { reader in
                    #expect(reader.head.status == 200)
                    reader.recording = true
                    let nextHeader = Array("\r\n--framecast\r\nContent-Type: image/jpeg\r\n\r\n".utf8)
                    // The opening boundary and the first part's whole header block, at once.
                    let opening = try await reader.read(exactly: Array("--framecast\r\nContent-Type: image/jpeg\r\n\r\n".utf8).count)
                    #expect(opening == Array("--framecast\r\nContent-Type: image/jpeg\r\n\r\n".utf8))
                    for _ in 0..<5 {
                        // Then each JPEG is followed at once by the boundary line and the next header block.
                        let jpeg = try await reader.read(until: nextHeader)
                        let size = try #require(jpegDimensions(jpeg), "not a whole JPEG")
                        #expect(size.width == 160 && size.height == 120)
                        #expect(try await reader.read(exactly: nextHeader.count) == nextHeader)
                    }
                    // No length or timestamp headers can precede a body in this layout.
                    #expect(find(Array("Content-Length".utf8), in: reader.transcript, from: 0) == nil)
                }
            }
        }
    }

    @Test func framingIsChosenByUserAgentAndOverriddenByQuery() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120)) { server in
            try await withDeadline(30, "framing choices") {
                let browser = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
                let cases: [(String, String, Bool)] = [
                    ("", "curl/8.5.0", true),
                    ("", "Lavf/59.27.100", true),
                    ("", "GStreamer souphttpsrc 1.22.0 libsoup/3.2.2", true),
                    ("", browser, false),
                    ("?framing=length", browser, true),
                    ("?framing=early", "curl/8.5.0", false),
                ]
                for (query, agent, expectLength) in cases {
                    let hasLength = try await server.stream(query: query, userAgent: agent) { reader, parts in
                        try #require(try await parts.next(&reader)).contentLength != nil
                    }
                    #expect(hasLength == expectLength, "\(agent) \(query)")
                }
                let (head, body) = try await server.get("/stream?framing=sideways")
                #expect(head.status == 400)
                #expect(String(decoding: body, as: UTF8.self).contains("framing=length"))
            }
        }
    }

    @Test func openingBoundaryIsSentBeforeAnyFrame() async throws {
        // identity drop-probability=1 lets no frame through: the client still gets its opening at once.
        let silent = TestPipelines.pattern(extra: "! identity drop-probability=1.0")
        try await TestServer.run(pipeline: silent) { server in
            try await withDeadline(10, "the opening boundary with no frame flowing") {
                try await server.stream { reader, _ in
                    #expect(reader.head.status == 200)
                }
            }
        }
    }

    @Test func newestFrameIsSentAgainAfterASecondWithoutANewOne() async throws {
        // One frame every 3 s: in between, the same frame (same X-Timestamp) must come again.
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120, fps: "1/3")) { server in
            try await withDeadline(20, "a repeated frame") {
                try await server.stream { reader, parts in
                    let first = try #require(try await parts.nextFrame(&reader))
                    let again = try #require(try await parts.next(&reader))
                    #expect(again.timestamp == first.timestamp)
                    #expect(again.body == first.body)
                    let gap = again.receivedAt - first.receivedAt
                    #expect(gap > 0.5 && gap < 2.5, "repeated after \(gap) s")
                }
            }
        }
    }

    @Test func twentyConcurrentClientsAllReceiveFrames() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 320, height: 240)) { server in
            try await withDeadline(60, "20 clients receiving frames") {
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<20 {
                        group.addTask {
                            try await server.stream { reader, parts in
                                var count = 0
                                for _ in 0..<15 {
                                    let part = try #require(try await parts.next(&reader))
                                    #expect(jpegDimensions(part.body) != nil)
                                    count += 1
                                }
                                return count
                            }
                        }
                    }
                    var total = 0
                    for try await count in group { total += count }
                    #expect(total == 20 * 15)
                }
            }
        }
    }
}

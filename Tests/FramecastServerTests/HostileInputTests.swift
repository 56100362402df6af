import Foundation
import FramecastServer
import Testing

/// Malformed, oversized, slow and random requests: a 4xx or a closed socket, never a crash, a hang
/// or a file outside the web root; and the server keeps serving everyone else.
@Suite(.serialized) struct HostileInputTests {
    /// What a hostile request got: a status, or the connection closed.
    enum Outcome: Equatable {
        case status(Int)
        case closed
    }

    /// Sends raw bytes on a new connection and reads the response head (never a body: a valid
    /// `/stream` request would otherwise never end).
    static func send(_ bytes: [UInt8], port: Int) async throws -> Outcome {
        do {
            return try await withHTTPRequest(port: port, path: "/", rawRequest: String(decoding: bytes, as: UTF8.self)) { reader in
                .status(reader.head.status)
            }
        } catch let error as HTTPTestError {
            if case .closed = error { return .closed }
            if case .malformed = error { return .closed }
            throw error
        } catch {
            return .closed  // reset by the server
        }
    }

    /// A small seeded generator (SplitMix64): the same seed gives the same requests on every run.
    struct SeededRandom: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func hostileRequest(_ random: inout SeededRandom) -> [UInt8] {
        let paths = ["/", "/stream", "/snapshot", "/api/status", "/api/streams/main", "/metrics", "/ws", "/../etc/passwd", "/%00", "/%zz"]
        let methods = ["GET", "POST", "PUT", "DELETE", "BREW", "G\u{0}T", "", "OPTIONS", "HEAD", "CONNECT"]
        let path = paths.randomElement(using: &random)!
        switch random.next() % 10 {
        case 0:  // random bytes
            return (0..<Int(random.next() % 2000)).map { _ in UInt8.random(in: 0...255, using: &random) }
        case 1:  // an absurd query string
            let query = String(repeating: "a=1&", count: Int(random.next() % 5000))
            return Array("GET \(path)?\(query) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        case 2:  // oversized header
            let value = String(repeating: "x", count: 70_000 + Int(random.next() % 100_000))
            return Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: \(value)\r\n\r\n".utf8)
        case 3:  // too many headers
            let headers = (0..<(1000 + Int(random.next() % 2000))).map { "X-\($0): y\r\n" }.joined()
            return Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\n\(headers)\r\n".utf8)
        case 4:  // broken request line
            return Array("\(methods.randomElement(using: &random)!) \(path)  HTTP/9.9 extra\r\n\r\n".utf8)
        case 5:  // bad percent encodings and control characters in the path
            return Array("GET /%\(Int(random.next() % 256))/\u{7F}/%c0%ae%c0%ae/ HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        case 6:  // invalid framing for the body
            return Array("POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: -5\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n".utf8)
        case 7:  // bad query values
            let values = ["fps=-1", "fps=1e999", "framing=%00", "max_age=99999999999999999999", "fps=&fps=", "action=stream_99999999999999999999"]
            return Array("GET \(path)?\(values.randomElement(using: &random)!) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".utf8)
        case 8:  // a valid method with a mangled header block
            return Array("\(methods.randomElement(using: &random)!) \(path) HTTP/1.1\r\nHost x\r\n: empty\r\n\r\n".utf8)
        default:  // a truncated request, then the connection closes
            let full = Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: fuzz\r\n\r\n".utf8)
            return Array(full.prefix(Int(random.next() % UInt64(full.count))))
        }
    }

    @Test func thousandsOfSeededHostileRequestsGet4xxOrAClosedSocketAndTheServerKeepsServing() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: { $0.headerTimeout = 1 }) { server in
            try await withDeadline(240, "2000 hostile requests") {
                // A viewer watches throughout; it must not notice.
                async let viewer: Int = server.stream { reader, parts in
                    var frames = 0
                    while frames < 150 {
                        _ = try #require(try await parts.next(&reader))
                        frames += 1
                    }
                    return frames
                }
                var random = SeededRandom(state: 20261126)
                let requests = (0..<2000).map { _ in Self.hostileRequest(&random) }
                let outcomes = try await withThrowingTaskGroup(of: (Int, Outcome).self) { group in
                    var outcomes: [(Int, Outcome)] = []
                    for (index, request) in requests.enumerated() {
                        if index >= 32, let done = try await group.next() { outcomes.append(done) }
                        group.addTask {
                            try await withDeadline(10, "hostile request \(index)") { (index, try await Self.send(request, port: server.port)) }
                        }
                    }
                    for try await done in group { outcomes.append(done) }
                    return outcomes
                }
                #expect(outcomes.count == 2000)
                for (index, outcome) in outcomes {
                    if case .status(let status) = outcome {
                        #expect(status < 500 || status == 503, "request \(index) (seed 20261126) answered \(status)")
                    }
                }
                #expect(try await viewer == 150)
                #expect(try await server.get("/api/status").0.status == 200)
                try await server.stream { reader, parts in _ = try #require(try await parts.next(&reader)) }
            }
        }
    }

    @Test func aSlowHeaderSenderIsClosedAtTheHeaderDeadlineEvenWhileItKeepsSending() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(), configure: { $0.headerTimeout = 1 }) { server in
            let client = try StalledClient(port: server.port, request: Array("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n".utf8))
            let started = Date()
            var closedAfter: Double?
            // One more header line every 200 ms, never the blank line that ends the headers.
            for line in 0..<50 {
                if client.isClosedByPeer() {
                    closedAfter = Date().timeIntervalSince(started)
                    break
                }
                client.sendNow(Array("X-Slow-\(line): y\r\n".utf8))
                try await Task.sleep(for: .milliseconds(200))
            }
            let after = try #require(closedAfter, "the slow sender was never closed")
            #expect(after >= 0.8 && after < 4, "closed after \(after) s with a 1 s header deadline")
            #expect(try await server.get("/api/status").0.status == 200)
        }
    }

    @Test func traversalInAnyEncodingNeverLeavesTheWebRoot() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern()) { server in
            let attempts = [
                "/../Package.swift", "/%2e%2e/Package.swift", "/%2E%2E%2FPackage.swift", "/..%2fPackage.swift", "/..%2FPackage.swift",
                "/%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/.%2e/Package.swift", "/%2e./Package.swift", "/..%252fPackage.swift",
                "/%252e%252e/Package.swift", "/%c0%ae%c0%ae/Package.swift", "/%c0%af..%c0%afPackage.swift", "/..%5cPackage.swift",
                "/..\\Package.swift", "//etc/passwd", "/./../Package.swift", "/Web/../../Package.swift", "/index.html/../../Package.swift",
                "/%00../Package.swift", "/..;/Package.swift", "http://127.0.0.1/../Package.swift",
            ]
            for path in attempts {
                let outcome = try await Self.send(Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8), port: server.port)
                if case .status(let status) = outcome {
                    #expect(status >= 400 && status < 500, "\(path) answered \(status)")
                }
                let (_, body) = (try? await server.get(path)) ?? (ResponseHead(status: 0, headers: []), [])
                let text = String(decoding: body, as: UTF8.self)
                #expect(!text.contains("PackageDescription") && !text.contains("root:x:0"), "\(path) leaked a file")
            }
        }
    }
}

import FramecastServer
import Foundation
import Logging
import ServiceLifecycle

/// A real Framecast on a free loopback port, with a real pipeline, for the length of a closure.
struct TestServer: Sendable {
    let port: Int

    /// The repository's Web folder (independent of the working directory).
    static let webRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Web").path

    /// `logger`: the server's (a test that reads what it logs); by default one at
    /// `FRAMECAST_TEST_LOG`'s level, `critical` when unset.
    static func run<T: Sendable>(
        pipeline: String,
        logger given: Logger? = nil,
        configure: (inout ServerConfiguration) -> Void = { _ in },
        _ body: @escaping @Sendable (TestServer) async throws -> T
    ) async throws -> T {
        var configuration = ServerConfiguration(pipeline: pipeline)
        configuration.port = 0
        configuration.webRoot = webRoot
        configure(&configuration)
        var logger = Logger(label: "framecast-test")
        logger.logLevel = ProcessInfo.processInfo.environment["FRAMECAST_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
        if let given { logger = given }
        let (ports, portSink) = AsyncStream<Int>.makeStream()
        let application = try buildApplication(configuration: configuration, logger: logger) { listeners in
            portSink.yield(listeners.first?.port ?? 0)
        }
        let group = ServiceGroup(configuration: .init(services: [application], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw HTTPTestError.closed("starting the server") }
            let result: Result<T, any Error>
            do {
                result = .success(try await body(TestServer(port: port)))
            } catch {
                result = .failure(error)
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return try result.get()
        }
    }

    /// GET a path and read the whole body.
    func get(_ path: String, method: String = "GET", headers: [String: String] = ["User-Agent": "framecast-tests"]) async throws -> (ResponseHead, [UInt8]) {
        try await withHTTPRequest(port: port, path: path, method: method, headers: headers.merging(["Connection": "close"]) { a, _ in a }) { reader in
            (reader.head, try await reader.readToEnd())
        }
    }

    func status() async throws -> [String: Any] {
        let (head, body) = try await get("/api/status")
        guard head.status == 200, let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] else {
            throw HTTPTestError.malformed("status answered \(head.status)")
        }
        return json
    }

    func state() async throws -> String { try await status()["state"] as? String ?? "?" }

    /// Opens `path` (with `query`) and hands the body closure the parts as they come.
    func stream<T: Sendable>(
        path: String = "/stream",
        query: String = "",
        userAgent: String = "framecast-tests",
        _ body: (inout ResponseReader, inout MultipartStreamReader) async throws -> T
    ) async throws -> T {
        try await withHTTPRequest(port: port, path: "\(path)\(query)", headers: ["User-Agent": userAgent]) { reader in
            guard reader.head.status == 200 else { throw HTTPTestError.malformed("stream answered \(reader.head.status)") }
            var parts = MultipartStreamReader(boundary: "framecast")
            try await parts.readOpening(&reader)
            return try await body(&reader, &parts)
        }
    }
}

/// Small pipelines so the suite runs on two cores: every test encodes for real.
enum TestPipelines {
    static func pattern(width: Int = 320, height: Int = 240, fps: String = "30/1", extra: String = "") -> String {
        "videotestsrc is-live=true pattern=ball ! video/x-raw,width=\(width),height=\(height),framerate=\(fps) \(extra) ! jpegenc ! appsink name=sink"
    }
}

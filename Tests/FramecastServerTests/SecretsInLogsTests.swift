import Foundation
@testable import FramecastServer
import Logging
import Synchronization
import Testing

/// Every line the server logs, whole (message, the logger's metadata and the line's), at trace
/// level: what a test may search for secrets.
final class CapturedLog: Sendable {
    private let lines = Mutex<[String]>([])

    var text: String { lines.withLock { $0.joined(separator: "\n") } }

    var logger: Logger {
        var logger = Logger(label: "framecast-test") { [self] label in Handler(label: label, sink: self) }
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ line: String) { lines.withLock { $0.append(line) } }

    struct Handler: LogHandler {
        let label: String
        let sink: CapturedLog
        var logLevel: Logger.Level = .trace
        var metadata: Logger.Metadata = [:]

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var fields = metadata
            if let extra = event.metadata { fields.merge(extra) { _, new in new } }
            sink.append("\(event.level) \(label): \(event.message) \(fields) \(event.source) \(event.file)")
        }
    }
}

/// Links' tokens and session cookies are credentials: whatever happens to a request carrying one
/// (opened, refused for every reason, a stream, a snapshot, a link made, a cookie set, read and
/// refused), neither reaches the log, at any level.
@Suite(.serialized) struct SecretsInLogsTests {
    @Test func noTokenOrCookieIsEverLogged() async throws {
        let log = CapturedLog()
        let secrets = try await SignedLinkTests.withServer(logger: log.logger) { fixture -> [String] in
            let server = fixture.server
            var secrets: [String] = []
            let stream = try fixture.token("cam", .stream)
            let snapshot = try fixture.token("cam", .snapshot)
            let expired = LinkToken(stream: "cam", scope: .stream, expires: LinkToken.now() - 5).signed(with: try fixture.key)
            let tampered = String(stream.dropLast()) + (stream.hasSuffix("A") ? "Q" : "A")
            secrets += [stream, snapshot, expired, tampered]
            _ = try await SignedLinkTests.firstFrame(server, "/stream/cam?token=\(stream)")
            _ = try await server.get("/snapshot/cam?token=\(snapshot)")
            for path in [
                "/stream/cam?token=\(expired)", "/stream/cam?token=\(tampered)", "/stream/yard?token=\(stream)", "/snapshot/cam?token=\(stream)",
                "/api/status?token=\(stream)", "/metrics?token=\(stream)", "/stream/cam?token=\(stream)&token=\(stream)",
                "/stream/nosuch?token=\(stream)", "/stream/cam?framing=bogus&token=\(stream)", "/?action=stream_9&token=\(stream)",
            ] {
                _ = try await server.get(path)
            }
            _ = try await server.get("/api/links?stream=cam&token=\(stream)", method: "POST")
            // A link made, and a Basic login's cookie used, altered and refused.
            let (_, made) = try await server.get("/api/links?stream=cam", method: "POST", headers: ["Authorization": SignedLinkTests.authorization])
            let path = (try JSONSerialization.jsonObject(with: Data(made)) as? [String: Any])?["path"] as? String ?? ""
            secrets.append(String(path.split(separator: "=").last ?? ""))
            let (head, _) = try await server.get("/api/status", headers: ["Authorization": SignedLinkTests.authorization])
            let cookie = try #require(SessionCookieTests.cookie(head)).pair
            let value = String(cookie.dropFirst("framecast_session=".count))
            secrets.append(value)
            _ = try await server.get("/api/status", headers: ["Cookie": cookie])
            _ = try await server.get("/api/status", headers: ["Cookie": cookie + "x"])
            _ = try await withHTTPRequest(port: server.port, path: "/ws?token=\(stream)", headers: WebSocketTestClient.upgradeHeaders) { $0.head.status }
            // A reload (which logs) in between.
            _ = try await server.get("/api/reload", method: "POST", headers: ["Cookie": cookie])
            return secrets
        }
        let text = log.text
        #expect(text.contains("signed link refused"), "the refusals were logged")
        #expect(text.contains("/stream/yard"), "with their path")
        for secret in secrets where !secret.isEmpty {
            // The MAC alone is enough to find a token.
            let mac = String(secret.split(separator: ".").last ?? "")
            #expect(!text.contains(mac), "a token or cookie reached the log")
        }
        #expect(!text.contains("token="))
        #expect(!text.contains("framecast_session"))
    }
}

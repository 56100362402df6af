import Foundation
import FramecastServer
import Testing

/// HTTP Basic authentication on every route but `/healthz`, failed attempts logged without the
/// password, and CORS only when asked for; run as a child process to read what it logs.
@Suite(.serialized) struct AccessControlTests {
    static func basic(_ user: String, _ password: String) -> String {
        "Basic " + Data("\(user):\(password)".utf8).base64EncodedString()
    }

    static let routes = ["/", "/app.js", "/stream", "/stream/main", "/snapshot", "/api/status", "/api/streams", "/metrics", "/?action=snapshot"]

    /// Every route refuses without or with wrong credentials, and serves with the right ones.
    static func checkRoutes(_ server: TestServer, user: String, password: String) async throws {
        for (index, path) in routes.enumerated() {
            let (open, _) = try await Self.head(server, path, headers: [:])
            #expect(open.status == 401, "\(path) without credentials answered \(open.status)")
            #expect(open.header("www-authenticate")?.hasPrefix("Basic") == true)
            // Five wrong passwords at most: the sixth from one address would be throttled (429).
            if index < 4 {
                let (wrong, _) = try await Self.head(server, path, headers: ["Authorization": basic(user, password + "x\(index)")])
                #expect(wrong.status == 401, "\(path) with a wrong password answered \(wrong.status)")
            }
            let (right, _) = try await Self.head(server, path, headers: ["Authorization": basic(user, password)])
            #expect(right.status == 200, "\(path) with the right password answered \(right.status)")
        }
        let (health, body) = try await server.get("/healthz")
        #expect(health.status == 200)
        #expect(!String(decoding: body, as: UTF8.self).contains("videotestsrc"), "/healthz reveals nothing")
        // The WebSocket upgrade is behind the same door (Hummingbird answers a refused upgrade 400).
        let upgrade = try await withHTTPRequest(port: server.port, path: "/ws", headers: WebSocketTestClient.upgradeHeaders) { $0.head.status }
        #expect(upgrade == 401 || upgrade == 400, "an unauthenticated upgrade answered \(upgrade)")
        var headers = WebSocketTestClient.upgradeHeaders
        headers["Authorization"] = basic(user, password)
        #expect(try await withHTTPRequest(port: server.port, path: "/ws", headers: headers) { $0.head.status } == 101)
    }

    /// The response head only (streams never end).
    static func head(_ server: TestServer, _ path: String, headers: [String: String]) async throws -> (ResponseHead, Void) {
        let all = headers.merging(["User-Agent": "framecast-tests", "Connection": "close"]) { a, _ in a }
        return (try await withHTTPRequest(port: server.port, path: path, headers: all) { $0.head }, ())
    }

    @Test func authOptionProtectsEveryRouteButHealthzAndLogsFailuresWithoutThePassword() async throws {
        let process = try await FramecastProcess.serve(
            ["--pipeline", TestPipelines.pattern(width: 160, height: 120), "--auth", "admin:s3cret-Passw0rd"], awaitStatus: 401)
        defer { process.terminate() }
        try await withDeadline(60, "auth routes") {
            try await Self.checkRoutes(process.server, user: "admin", password: "s3cret-Passw0rd")
        }
        process.terminate()
        try await process.waitForExit(timeout: 5)
        let log = process.standardErrorText
        #expect(log.contains("authentication failed"))
        #expect(log.contains("admin"))
        #expect(!log.contains("s3cret-Passw0rd"), "a password reached the log")
    }

    @Test func htpasswdBcryptEntriesFromApacheHtpasswd() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("framecast-auth-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let file = folder.appendingPathComponent("users").path
        // Apache's own tool makes the entries ($2y$, cost 5 unless told otherwise).
        let made = try await InteropTests.run("htpasswd", ["-cbB", file, "viewer", "camera-pass"])
        #expect(made.status == 0, "\(made.output)")
        let process = try await FramecastProcess.serve(["--pipeline", TestPipelines.pattern(width: 160, height: 120), "--htpasswd", file], awaitStatus: 401)
        defer { process.terminate() }
        try await withDeadline(60, "htpasswd routes") {
            try await Self.checkRoutes(process.server, user: "viewer", password: "camera-pass")
        }
        let (other, _) = try await Self.head(process.server, "/api/status", headers: ["Authorization": Self.basic("nobody", "camera-pass")])
        #expect(other.status == 401)
    }

    @Test func aBrokenHtpasswdFileIsAStartupError() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("framecast-md5-\(UUID().uuidString)").path
        try "viewer:$apr1$abc$def\n".write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        let result = try await FramecastProcess.runToExit(["--htpasswd", file, "--port", "0"])
        #expect(result.status == 2)
        #expect(result.error.contains("bcrypt"), "\(result.error)")
    }

    @Test func corsIsOffUnlessAnOriginIsAllowed() async throws {
        let origin = "https://printer.example"
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120)) { server in
            let (head, _) = try await Self.head(server, "/api/status", headers: ["Origin": origin])
            #expect(head.status == 200)
            #expect(head.header("access-control-allow-origin") == nil)
        }
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: { $0.allowOrigin = origin }) { server in
            let (head, _) = try await Self.head(server, "/api/status", headers: ["Origin": origin])
            #expect(head.header("access-control-allow-origin") == origin)
            let (preflight, _) = try await withHTTPRequest(
                port: server.port, path: "/api/status", method: "OPTIONS",
                headers: ["Origin": origin, "Access-Control-Request-Method": "GET", "Connection": "close"]
            ) { ($0.head, ()) }
            #expect(preflight.status < 300, "preflight answered \(preflight.status)")
            #expect(preflight.header("access-control-allow-origin") == origin)
        }
    }
}

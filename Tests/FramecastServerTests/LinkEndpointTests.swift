import Foundation
@testable import FramecastServer
import Testing

/// `POST /api/links` for a signed-in user, and `framecast link` run as a child process: both make
/// links the server opens; bad parameters are refused with the reason.
@Suite(.serialized) struct LinkEndpointTests {
    static let signedIn = ["Authorization": SignedLinkTests.authorization]

    static func json(_ body: [UInt8]) -> [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]) ?? [:]
    }

    @Test func aSignedInUserMakesLinksThatOpenAlone() async throws {
        try await SignedLinkTests.withServer { fixture async throws in
            let server = fixture.server
            let (head, body) = try await server.get("/api/links?stream=cam&ttl=1h", method: "POST", headers: Self.signedIn)
            #expect(head.status == 200)
            #expect(head.header("content-type")?.hasPrefix("application/json") == true)
            let made = Self.json(body)
            let path = try #require(made["path"] as? String)
            #expect(path.hasPrefix("/stream/cam?token=v1."))
            #expect(made["url"] as? String == "http://127.0.0.1:\(server.port)\(path)")
            #expect(made["scope"] as? String == "stream")
            #expect(made["stream"] as? String == "cam")
            let expires = try #require(ISO8601DateFormatter().date(from: made["expires"] as? String ?? ""))
            #expect(abs(expires.timeIntervalSinceNow - 3600) < 10)
            #expect(try await SignedLinkTests.firstFrame(server, path).status == 200)

            let (snapshotHead, snapshotBody) = try await server.get("/api/links?stream=yard&scope=snapshot", method: "POST", headers: Self.signedIn)
            #expect(snapshotHead.status == 200)
            let snapshot = Self.json(snapshotBody)
            let snapshotPath = try #require(snapshot["path"] as? String)
            #expect(snapshotPath.hasPrefix("/snapshot/yard?token="))
            // The standard lifetime: 7 days.
            let week = try #require(ISO8601DateFormatter().date(from: snapshot["expires"] as? String ?? ""))
            #expect(abs(week.timeIntervalSinceNow - 7 * 86_400) < 10)
            #expect(try await server.get(snapshotPath).0.status == 200)

            // The page's status says links can be made.
            let (_, streams) = try await server.get("/api/streams", headers: Self.signedIn)
            #expect(Self.json(streams)["links"] as? Bool == true)

            // Nobody signed in: the challenge; a link cannot make links.
            let anonymous = try await server.get("/api/links?stream=cam", method: "POST")
            #expect(anonymous.0.status == 401)
            #expect(anonymous.0.header("www-authenticate") != nil)
            let token = try fixture.token("cam", .stream)
            try await SignedLinkTests.expectRefused(fixture, "/api/links?stream=cam&token=\(token)", nil, method: "POST")
        }
    }

    @Test func badParametersForeignPagesAndOtherMethodsAreRefused() async throws {
        try await SignedLinkTests.withServer { fixture async throws in
            let server = fixture.server
            let table: [(query: String, status: Int, says: String)] = [
                ("stream=nosuch", 404, "no stream named"),
                ("stream=Cam!", 404, "no stream named"),
                ("stream=%2e%2e%2fcam", 404, "no stream named"),
                ("", 400, "name the stream"),
                ("stream=", 400, "name the stream"),
                ("stream=cam&stream=yard", 400, "once"),
                ("stream=cam&scope=everything", 400, "scope must be stream or snapshot"),
                ("stream=cam&scope=", 400, "scope must be"),
                ("stream=cam&ttl=0", 400, "10 years"),
                ("stream=cam&ttl=-1", 400, "10 years"),
                ("stream=cam&ttl=1e300", 400, "10 years"),
                ("stream=cam&ttl=nan", 400, "10 years"),
                ("stream=cam&ttl=inf", 400, "10 years"),
                ("stream=cam&ttl=18446744073709551617", 400, "10 years"),
                ("stream=cam&ttl=", 400, "10 years"),
                ("stream=cam&ttl=11y", 400, "10 years"),
                ("stream=cam&ttl=3651d", 400, "10 years"),
            ]
            for row in table {
                let (head, body) = try await server.get("/api/links?\(row.query)", method: "POST", headers: Self.signedIn)
                #expect(head.status == row.status, "?\(row.query) answered \(head.status)")
                let error = Self.json(body)["error"] as? String ?? ""
                #expect(error.contains(row.says), "?\(row.query): \(error)")
            }
            var foreign = Self.signedIn
            foreign["Origin"] = "http://evil.example"
            #expect(try await server.get("/api/links?stream=cam", method: "POST", headers: foreign).0.status == 403)
            var own = Self.signedIn
            own["Origin"] = "http://127.0.0.1:\(server.port)"
            #expect(try await server.get("/api/links?stream=cam", method: "POST", headers: own).0.status == 200)
            for method in ["GET", "PUT", "DELETE", "PATCH"] {
                let (head, _) = try await server.get("/api/links?stream=cam", method: method, headers: Self.signedIn)
                #expect(head.status == 405, "\(method) answered \(head.status)")
                #expect(head.header("allow") == "POST")
            }
        }
    }

    @Test func withoutAKeyFileThereAreNoLinks() async throws {
        try await SignedLinkTests.withServer(links: false) { fixture async throws in
            let (head, body) = try await fixture.server.get("/api/links?stream=cam", method: "POST", headers: Self.signedIn)
            #expect(head.status == 404)
            #expect((Self.json(body)["error"] as? String ?? "").contains("--link-key-file"))
            let (_, streams) = try await fixture.server.get("/api/streams", headers: Self.signedIn)
            #expect(Self.json(streams)["links"] as? Bool == false)
            // A token is no credential then: the ordinary challenge.
            let answer = try await SignedLinkTests.ask(fixture.server, "/stream/cam?token=\(try fixture.token("cam", .stream))")
            #expect(answer.head.status == 401)
            #expect(answer.head.header("www-authenticate") != nil)
        }
    }

    /// `framecast link` prints a link the running server opens; bad input exits 2 with the reason.
    @Test func theLinkCommandMakesLinksTheServerOpens() async throws {
        let folder = try TemporaryDirectory("linkcmd")
        let key = folder.file("link.key")
        let server = try await FramecastProcess.serve(
            ["--pipeline", TestPipelines.pattern(width: 160, height: 120), "--auth", "viewer:secret", "--link-key-file", key], awaitStatus: 401)
        defer { server.terminate() }
        #expect(try SignedLinkTests.mode(key) == 0o600)
        #expect(server.standardErrorText.contains("made a new link key"))

        let made = try await FramecastProcess.runToExit(["link", "main", "--link-key-file", key, "--ttl", "1h"])
        #expect(made.status == 0, "\(made.error)")
        let path = made.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(path.hasPrefix("/stream/main?token=v1."))
        #expect(made.error.contains("expires"))
        let opened = try await withDeadline(30, "the link's stream") { try await SignedLinkTests.firstFrame(server.server, path).status }
        #expect(opened == 200)

        let base = "http://127.0.0.1:\(server.port)/"
        let snapshot = try await FramecastProcess.runToExit(["link", "main", "--link-key-file", key, "--snapshot", "--base-url", base])
        #expect(snapshot.status == 0, "\(snapshot.error)")
        let url = snapshot.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(url.hasPrefix("http://127.0.0.1:\(server.port)/snapshot/main?token="), "\(url)")
        let (head, body) = try await server.server.get(String(url.dropFirst(base.count - 1)))
        #expect(head.status == 200)
        #expect(body.starts(with: [0xFF, 0xD8]))
        let (wrongScope, _) = try await server.server.get(String(url.dropFirst(base.count - 1)).replacingOccurrences(of: "/snapshot/", with: "/stream/"))
        #expect(wrongScope.status == 401)

        // A path prefix (a proxy's) is kept; trailing slashes are not doubled.
        let prefixed = try await FramecastProcess.runToExit(["link", "main", "--link-key-file", key, "--base-url", "https://cams.example.org:8443/cams//"])
        #expect(prefixed.output.hasPrefix("https://cams.example.org:8443/cams/stream/main?token="), "\(prefixed.output)")

        // The key file named in the configuration file, as serve reads it.
        let config = folder.file("framecast.yaml")
        try "link-key-file: link.key\n".write(toFile: config, atomically: true, encoding: .utf8)
        let fromConfig = try await FramecastProcess.runToExit(["link", "main", "--config", config])
        #expect(fromConfig.status == 0, "\(fromConfig.error)")
        #expect(fromConfig.output.hasPrefix("/stream/main?token="))

        let refusals: [(arguments: [String], says: String)] = [
            (["link", "main", "--link-key-file", key, "--ttl", "0"], "10 years"),
            (["link", "main", "--link-key-file", key, "--ttl", "-1"], "10 years"),
            (["link", "main", "--link-key-file", key, "--ttl", "1e-300"], "10 years"),
            (["link", "main", "--link-key-file", key, "--ttl", "1e300"], "10 years"),
            (["link", "main", "--link-key-file", key, "--ttl", "nan"], "10 years"),
            (["link", "main", "--link-key-file", key, "--ttl", "inf"], "10 years"),
            (["link", "main", "--link-key-file", key, "--ttl", "18446744073709551617"], "10 years"),
            (["link", "main", "--link-key-file", key, "--ttl", ""], "10 years"),
            (["link", "Main!", "--link-key-file", key], "not allowed"),
            (["link", "../main", "--link-key-file", key], "not allowed"),
            (["link", "main", "--link-key-file", folder.file("missing.key")], "no such file"),
            (["link", "main", "--link-key-file", key, "--base-url", "ftp://example.org"], "--base-url"),
            (["link", "main", "--link-key-file", key, "--base-url", "https://example.org/?a=b"], "--base-url"),
            (["link", "main", "--config", folder.file("none.yaml")], "none.yaml"),
        ]
        for refusal in refusals {
            let result = try await FramecastProcess.runToExit(refusal.arguments)
            #expect(result.status == 2, "\(refusal.arguments): \(result.status)")
            #expect(result.output.isEmpty)
            #expect(result.error.lowercased().contains(refusal.says.lowercased()), "\(refusal.arguments): \(result.error)")
        }
        let short = folder.file("short.key")
        try Data(repeating: 1, count: 8).write(to: URL(fileURLWithPath: short))
        let refused = try await FramecastProcess.runToExit(["link", "main", "--link-key-file", short])
        #expect(refused.status == 2)
        #expect(refused.error.contains("fewer than 16"))
    }

    /// A key file too short to trust stops the start (status 2, the reason); one others may read
    /// is used with a warning.
    @Test func serveRefusesAShortKeyAndWarnsAboutAnOpenOne() async throws {
        let folder = try TemporaryDirectory("linkserve")
        let short = folder.file("short.key")
        try Data(repeating: 1, count: 15).write(to: URL(fileURLWithPath: short))
        let refused = try await FramecastProcess.runToExit(["--port", "0", "--pipeline", TestPipelines.pattern(), "--link-key-file", short])
        #expect(refused.status == 2)
        #expect(refused.error.contains("15 bytes, fewer than 16"), "\(refused.error)")
        let missingFolder = try await FramecastProcess.runToExit(["--port", "0", "--pipeline", TestPipelines.pattern(), "--link-key-file", folder.file("no/key")])
        #expect(missingFolder.status == 2)
        #expect(missingFolder.error.contains("cannot create"), "\(missingFolder.error)")

        let open = folder.file("open.key")
        try Data(repeating: 3, count: 32).write(to: URL(fileURLWithPath: open))
        chmod(open, 0o644)
        let server = try await FramecastProcess.serve(["--pipeline", TestPipelines.pattern(width: 160, height: 120), "--link-key-file", open])
        defer { server.terminate() }
        try await eventually(10, "the warning") { server.standardErrorText.contains("chmod 600") }
        // From the environment too.
        let environment = try await FramecastProcess.runToExit(
            ["--port", "0", "--pipeline", TestPipelines.pattern()], environment: ["FRAMECAST_LINK_KEY_FILE": short])
        #expect(environment.status == 2)
        #expect(environment.error.contains("fewer than 16"))
    }
}

import Foundation
@testable import FramecastServer
import HTTPTypes
import Logging
import Testing

/// The session cookie: a Basic login sets it once; alone it opens the page, the API, streams and
/// the WebSocket; altered, expired or for a user the htpasswd file no longer holds (after the
/// reload), it is ignored and the Basic challenge answers; a refusal never sets it.
@Suite(.serialized) struct SessionCookieTests {
    /// `framecast_session=VALUE` from a response's `Set-Cookie`, and the whole header.
    static func cookie(_ head: ResponseHead) -> (pair: String, header: String)? {
        guard let header = head.headers.first(where: { $0.name.lowercased() == "set-cookie" })?.value,
            let pair = header.split(separator: ";").first, pair.hasPrefix("framecast_session=")
        else { return nil }
        return (String(pair), header)
    }

    static func login(_ server: TestServer, _ authorization: String, path: String = "/api/status") async throws -> String {
        let (head, _) = try await server.get(path, headers: ["Authorization": authorization, "User-Agent": "framecast-tests"])
        #expect(head.status == 200)
        return try #require(cookie(head)).pair
    }

    @Test func aBasicLoginSetsACookieThatOpensEverythingAlone() async throws {
        try await SignedLinkTests.withServer { fixture async throws in
            let server = fixture.server
            let (head, _) = try await server.get("/api/status", headers: ["Authorization": SignedLinkTests.authorization])
            #expect(head.status == 200)
            let (pair, header) = try #require(Self.cookie(head))
            #expect(header == "\(pair); Path=/; HttpOnly; SameSite=Strict", "plain HTTP: no Secure")
            let cookie = ["Cookie": pair]
            for path in ["/api/status", "/api/streams", "/", "/app.js", "/metrics", "/snapshot/yard"] {
                let (answer, _) = try await server.get(path, headers: cookie)
                #expect(answer.status == 200, "\(path) with the cookie answered \(answer.status)")
                #expect(Self.cookie(answer) == nil, "a valid cookie is not set again")
            }
            #expect(try await server.get("/api/links?stream=cam", method: "POST", headers: cookie).0.status == 200)
            let stream = try await withHTTPRequest(port: server.port, path: "/stream/cam", headers: cookie) { $0.head.status }
            #expect(stream == 200)
            var upgrade = WebSocketTestClient.upgradeHeaders
            upgrade["Cookie"] = "other=1; \(pair)"
            #expect(try await withHTTPRequest(port: server.port, path: "/ws", headers: upgrade) { $0.head.status } == 101)
            // Basic with the cookie: no new cookie; HEAD sets it like GET, without a body.
            let both = try await server.get("/api/status", headers: ["Authorization": SignedLinkTests.authorization, "Cookie": pair])
            #expect(Self.cookie(both.0) == nil)
            let head2 = try await server.get("/api/status", method: "HEAD", headers: ["Authorization": SignedLinkTests.authorization])
            #expect(head2.0.status == 200)
            #expect(Self.cookie(head2.0) != nil)
            #expect(head2.1.isEmpty)
            // A 404 after a good login is still a login.
            let missing = try await server.get("/api/streams/nosuch", headers: ["Authorization": SignedLinkTests.authorization])
            #expect(missing.0.status == 404)
            #expect(Self.cookie(missing.0) != nil)
        }
    }

    @Test func anAlteredOrForeignCookieIsIgnoredAndRefusalsSetNone() async throws {
        try await SignedLinkTests.withServer { fixture async throws in
            let server = fixture.server
            let pair = try await Self.login(server, SignedLinkTests.authorization)
            let value = String(pair.dropFirst("framecast_session=".count))
            var fields = value.split(separator: ".").map(String.init)
            var altered: [String] = []
            // The MAC, the expiry, the user.
            var mac = Array(fields[3])
            mac[5] = mac[5] == "A" ? "B" : "A"
            altered.append([fields[0], fields[1], fields[2], String(mac)].joined(separator: "."))
            altered.append([fields[0], String(Int(fields[1])! + 3600), fields[2], fields[3]].joined(separator: "."))
            altered.append([fields[0], fields[1], Base64URL.encode(Array("admin".utf8)), fields[3]].joined(separator: "."))
            fields[0] = "v2"
            altered.append(fields.joined(separator: "."))
            altered += ["", "garbage", String(repeating: "x", count: 2000)]
            for bad in altered {
                let (head, _) = try await server.get("/api/status", headers: ["Cookie": "framecast_session=\(bad)"])
                #expect(head.status == 401, "\(bad.prefix(40)) answered \(head.status)")
                #expect(head.header("www-authenticate")?.hasPrefix("Basic") == true, "a refused cookie falls back to the challenge")
                #expect(Self.cookie(head) == nil)
            }
            // Signed by another process (another server's key): the same user, refused.
            let other = SessionCookies(access: try AccessControl.single("viewer:\(SignedLinkTests.password)"))
            let foreign = try #require(other.value(for: "viewer"))
            #expect(try await server.get("/api/status", headers: ["Cookie": "framecast_session=\(foreign)"]).0.status == 401)
            // Wrong password: 401, no cookie. Then throttled: 429, no cookie.
            var statuses: [Int] = []
            for attempt in 0..<8 {
                let (head, _) = try await server.get("/api/status", headers: ["Authorization": AccessControlTests.basic("viewer", "wrong-\(attempt)")])
                statuses.append(head.status)
                #expect(Self.cookie(head) == nil, "a refused login set a cookie (\(head.status))")
            }
            #expect(statuses.contains(401) && statuses.contains(429), "\(statuses)")
        }
    }

    /// Expired cookies and the cookie format, on the type itself (12 hours are too long to wait).
    @Test func anExpiredCookieIsRefused() throws {
        let access = try AccessControl.single("viewer:secret")
        let sessions = SessionCookies(access: access)
        let now = LinkToken.now()
        let value = try #require(sessions.value(for: "viewer", now: now))
        var fields = HTTPFields()
        fields[.cookie] = "a=b; framecast_session=\(value); c=d"
        #expect(sessions.user(in: fields, now: now) == "viewer")
        #expect(sessions.user(in: fields, now: now + SessionCookies.lifetime - 1) == "viewer")
        #expect(sessions.user(in: fields, now: now + SessionCookies.lifetime) == nil)
        #expect(sessions.value(for: "someone-else") == nil)
        #expect(SessionCookies.setCookie("v", secure: true) == "framecast_session=v; Path=/; HttpOnly; SameSite=Strict; Secure")
        #expect(SessionCookies.setCookie("v", secure: false) == "framecast_session=v; Path=/; HttpOnly; SameSite=Strict")
    }

    /// A user removed from the htpasswd file (and a changed password) loses the session at the
    /// reload; the other users keep theirs.
    @Test func aUserRemovedFromTheHtpasswdFileLosesTheSessionAtTheReload() async throws {
        let file = try await AuthHardeningTests.htpasswdFile([("viewer", "camera-pass", 5), ("guest", "guest-pass", 5)])
        defer { try? FileManager.default.removeItem(at: file) }
        let access = try AccessControl.htpasswd(path: file.path, limits: AuthLimits(failuresAllowed: 100))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let reloader = StreamReloader(load: { [StreamDefinition(name: "main", pipeline: TestPipelines.pattern(width: 160, height: 120))] }, notifier: nil, logger: logger)
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: {
            $0.access = access
            $0.reloader = reloader
        }) { server in
            try await withDeadline(60, "sessions through a reload") {
                let viewer = try await Self.login(server, AccessControlTests.basic("viewer", "camera-pass"))
                let guest = try await Self.login(server, AccessControlTests.basic("guest", "guest-pass"))
                #expect(try await server.get("/api/status", headers: ["Cookie": viewer]).0.status == 200)
                #expect(try await server.get("/api/status", headers: ["Cookie": guest]).0.status == 200)
                // The guest goes; the viewer's password changes.
                let remade = try await AuthHardeningTests.htpasswdFile([("viewer", "new-pass", 5)])
                defer { try? FileManager.default.removeItem(at: remade) }
                try FileManager.default.removeItem(at: file)
                try FileManager.default.copyItem(at: remade, to: file)
                // Not before the reload.
                #expect(try await server.get("/api/status", headers: ["Cookie": guest]).0.status == 200)
                let reload = try await server.get("/api/reload", method: "POST", headers: ["Cookie": viewer])
                #expect(reload.0.status == 200)
                for cookie in [guest, viewer] {
                    let (head, _) = try await server.get("/api/status", headers: ["Cookie": cookie])
                    #expect(head.status == 401)
                    #expect(head.header("www-authenticate") != nil)
                }
                // Remembered headers are forgotten too: the removed user's Basic login fails.
                #expect(try await server.get("/api/status", headers: ["Authorization": AccessControlTests.basic("guest", "guest-pass")]).0.status == 401)
                let renewed = try await Self.login(server, AccessControlTests.basic("viewer", "new-pass"))
                #expect(try await server.get("/api/status", headers: ["Cookie": renewed]).0.status == 200)
            }
        }
    }
}

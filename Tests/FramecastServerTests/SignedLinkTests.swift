import Foundation
@testable import FramecastServer
import Logging
import Synchronization
import Testing

/// Signed links (`--link-key-file`) on a real server with credentials: a token opens its one
/// stream's pictures (stream, renditions, mjpg-streamer URLs) or snapshots, and nothing else;
/// an expired, altered, foreign or mis-scoped token answers 401 with its reason and no Basic
/// challenge; a new key revokes every link at the reload; `POST /api/links` makes them for a
/// signed-in user; nothing of a token reaches the log.
@Suite(.serialized) struct SignedLinkTests {
    static let password = "camera-pass"
    static let authorization = AccessControlTests.basic("viewer", password)

    static func pattern(_ name: String) -> String {
        "videotestsrc is-live=true pattern=\(name) ! video/x-raw,width=160,height=120,framerate=10/1 ! jpegenc ! appsink name=sink"
    }

    /// Streams `cam` (the first: what `/stream` serves) and `yard`, each with a rendition `thumb`.
    static func streams() throws -> [StreamDefinition] {
        let thumb = try RenditionRequest.parse(spec: "width=64,quality=50").get()
        return [
            StreamDefinition(name: "cam", pipeline: pattern("ball"), renditions: ["thumb": thumb]),
            StreamDefinition(name: "yard", pipeline: pattern("snow"), renditions: ["thumb": thumb]),
        ]
    }

    struct Fixture: Sendable {
        let server: TestServer
        let keyPath: String
        let store: LinkKeyStore

        var key: LinkKey { get throws { try LinkKey.load(path: keyPath, create: false).key } }

        func token(_ stream: String, _ scope: LinkToken.Scope, lifetime: Int64 = 3600) throws -> String {
            LinkToken(stream: stream, scope: scope, lifetime: lifetime).signed(with: try key)
        }
    }

    /// A server with `--auth viewer:camera-pass`, a link key in a fresh folder and a reloader
    /// (streams unchanged) behind `POST /api/reload`.
    static func withServer<T: Sendable>(
        logger: Logger? = nil, links: Bool = true, auth: Bool = true, _ body: @escaping @Sendable (Fixture) async throws -> T
    ) async throws -> T {
        let folder = try TemporaryDirectory("links")
        let keyPath = folder.file("link.key")
        var quiet = Logger(label: "framecast-test")
        quiet.logLevel = .critical
        let store = try LinkKeyStore(path: keyPath, logger: logger ?? quiet)
        let streams = try Self.streams()
        return try await TestServer.run(
            pipeline: pattern("ball"), logger: logger,
            configure: {
                $0.streams = streams
                if auth { $0.access = try? AccessControl.single("viewer:\(password)") }
                if links { $0.links = store }
                $0.reloader = StreamReloader(load: { streams }, notifier: nil, logger: logger ?? quiet)
            }
        ) { server in
            try await withDeadline(90, "signed link checks") {
                try await body(Fixture(server: server, keyPath: keyPath, store: store))
            }
        }
    }

    /// Status, headers and the JSON body's `reason` of a GET of `path`.
    static func ask(_ server: TestServer, _ path: String, method: String = "GET", headers: [String: String] = [:]) async throws -> (
        head: ResponseHead, reason: String?
    ) {
        let (head, body) = try await server.get(path, method: method, headers: headers.merging(["User-Agent": "framecast-tests"]) { a, _ in a })
        let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return (head, json?["reason"] as? String)
    }

    /// The first picture of a multipart stream at `path`, or the status that refused it.
    static func firstFrame(_ server: TestServer, _ path: String) async throws -> (status: Int, jpeg: [UInt8]) {
        try await withHTTPRequest(port: server.port, path: path) { reader in
            guard reader.head.status == 200 else { return (reader.head.status, []) }
            #expect(reader.head.header("content-type")?.hasPrefix("multipart/x-mixed-replace") == true)
            var parts = MultipartStreamReader(boundary: "framecast")
            try await parts.readOpening(&reader)
            let part = try #require(try await parts.next(&reader))
            return (200, part.body)
        }
    }

    /// A refused token: 401, the reason, and never a Basic challenge (an `<img>` must not prompt).
    static func expectRefused(_ fixture: Fixture, _ path: String, _ reason: String?, method: String = "GET", sourceLocation: SourceLocation = #_sourceLocation)
        async throws
    {
        let answer = try await ask(fixture.server, path, method: method)
        #expect(answer.head.status == 401, "\(method) \(path) answered \(answer.head.status)", sourceLocation: sourceLocation)
        #expect(answer.head.header("www-authenticate") == nil, "\(path): a refused link must not challenge", sourceLocation: sourceLocation)
        if let reason { #expect(answer.reason == reason, "\(path)", sourceLocation: sourceLocation) }
    }

    @Test func aStreamLinkOpensItsStreamRenditionsAndMjpgStreamerURLAlone() async throws {
        try await Self.withServer { fixture async throws in
            let server = fixture.server
            let cam = try fixture.token("cam", .stream)
            for path in ["/stream/cam", "/stream", "/stream/cam@thumb", "/stream/cam?width=64", "/stream/cam%40thumb", "/?action=stream", "/?action=stream_0"] {
                let separator = path.contains("?") ? "&" : "?"
                let (status, jpeg) = try await Self.firstFrame(server, "\(path)\(separator)token=\(cam)")
                #expect(status == 200, "\(path) with its stream's link answered \(status)")
                #expect(jpeg.starts(with: [0xFF, 0xD8]), "\(path): no JPEG")
            }
            let thumb = try await Self.firstFrame(server, "/stream/cam@thumb?token=\(cam)")
            #expect(jpegDimensions(thumb.jpeg)?.width == 64)
            // HEAD answers as GET would.
            #expect(try await Self.ask(server, "/stream/cam?token=\(cam)", method: "HEAD").head.status == 200)
            // Its own stream only, and no snapshot.
            try await Self.expectRefused(fixture, "/stream/yard?token=\(cam)", "other-stream")
            try await Self.expectRefused(fixture, "/stream/yard@thumb?token=\(cam)", "other-stream")
            try await Self.expectRefused(fixture, "/?action=stream_1&token=\(cam)", "other-stream")
            try await Self.expectRefused(fixture, "/snapshot/cam?token=\(cam)", "wrong-scope")
            try await Self.expectRefused(fixture, "/snapshot?token=\(cam)", "wrong-scope")
            try await Self.expectRefused(fixture, "/?action=snapshot&token=\(cam)", "wrong-scope")
            // A token is no credential for anything but pictures.
            for path in ["/", "/index.html", "/app.js", "/api/status", "/api/streams", "/api/streams/cam", "/metrics", "/?action=nonsense"] {
                let separator = path.contains("?") ? "&" : "?"
                try await Self.expectRefused(fixture, "\(path)\(separator)token=\(cam)", "not-a-picture")
            }
            try await Self.expectRefused(fixture, "/api/links?stream=cam&token=\(cam)", nil, method: "POST")
            try await Self.expectRefused(fixture, "/api/reload?token=\(cam)", nil, method: "POST")
            let socket = try await withHTTPRequest(port: server.port, path: "/ws?token=\(cam)", headers: WebSocketTestClient.upgradeHeaders) { $0.head }
            // Hummingbird answers an upgrade its router refused with 400 (see AccessControlTests).
            #expect(socket.status == 401 || socket.status == 400, "/ws with a link answered \(socket.status)")
            #expect(socket.header("www-authenticate") == nil)
            // Basic credentials work as before; nothing at all still gets the challenge.
            #expect(try await Self.ask(server, "/api/status", headers: ["Authorization": Self.authorization]).head.status == 200)
            let open = try await Self.ask(server, "/stream/cam")
            #expect(open.head.status == 401)
            #expect(open.head.header("www-authenticate")?.hasPrefix("Basic") == true)
            // Two tokens: which would count? Neither.
            try await Self.expectRefused(fixture, "/stream/cam?token=\(cam)&token=\(cam)", "malformed")
        }
    }

    @Test func aSnapshotLinkOpensSnapshotsOfItsStreamAlone() async throws {
        try await Self.withServer { fixture async throws in
            let server = fixture.server
            let cam = try fixture.token("cam", .snapshot)
            for path in ["/snapshot/cam", "/snapshot", "/snapshot/cam@thumb", "/snapshot/cam?width=64", "/?action=snapshot", "/?action=snapshot_0"] {
                let separator = path.contains("?") ? "&" : "?"
                let (head, body) = try await server.get("\(path)\(separator)token=\(cam)")
                #expect(head.status == 200, "\(path) with its snapshot link answered \(head.status)")
                #expect(head.header("content-type") == "image/jpeg")
                #expect(body.starts(with: [0xFF, 0xD8]))
            }
            try await Self.expectRefused(fixture, "/snapshot/yard?token=\(cam)", "other-stream")
            try await Self.expectRefused(fixture, "/?action=snapshot_1&token=\(cam)", "other-stream")
            try await Self.expectRefused(fixture, "/stream/cam?token=\(cam)", "wrong-scope")
            try await Self.expectRefused(fixture, "/stream?token=\(cam)", "wrong-scope")
            try await Self.expectRefused(fixture, "/?action=stream&token=\(cam)", "wrong-scope")
            // `/snapshot` means the first stream: a link to another one does not open it.
            let yard = try fixture.token("yard", .snapshot)
            try await Self.expectRefused(fixture, "/snapshot?token=\(yard)", "other-stream")
            #expect(try await server.get("/snapshot/yard?token=\(yard)").0.status == 200)
        }
    }

    @Test func expiredAlteredAndForeignTokensAreRefusedWithTheirReason() async throws {
        try await Self.withServer { fixture async throws in
            let key = try fixture.key
            let expired = LinkToken(stream: "cam", scope: .stream, expires: LinkToken.now() - 1).signed(with: key)
            try await Self.expectRefused(fixture, "/stream/cam?token=\(expired)", "expired")
            let good = try fixture.token("cam", .stream)
            var fields = good.split(separator: ".").map(String.init)
            // One character changed in the MAC (in the middle: every bit of it counts there).
            var mac = Array(fields[4])
            mac[10] = mac[10] == "A" ? "B" : "A"
            try await Self.expectRefused(fixture, "/stream/cam?token=\(fields[0...3].joined(separator: ".")).\(String(mac))", "invalid-signature")
            // The last character of the MAC: its spare bits make another spelling non-canonical.
            var last = Array(fields[4])
            last[last.count - 1] = last[last.count - 1] == "A" ? "B" : "A"
            let lastChanged = try await Self.ask(fixture.server, "/stream/cam?token=\(fields[0...3].joined(separator: ".")).\(String(last))")
            #expect(lastChanged.head.status == 401)
            #expect(["invalid-signature", "malformed"].contains(lastChanged.reason ?? ""))
            // A later expiry.
            var expiry = Array(fields[1])
            expiry[0] = expiry[0] == "9" ? "8" : "9"
            try await Self.expectRefused(fixture, "/stream/cam?token=v1.\(String(expiry)).\(fields[2...4].joined(separator: "."))", "invalid-signature")
            // Another stream put in, another scope put in.
            let yardName = Base64URL.encode(Array("yard".utf8))
            try await Self.expectRefused(fixture, "/stream/yard?token=v1.\(fields[1]).stream.\(yardName).\(fields[4])", "invalid-signature")
            try await Self.expectRefused(fixture, "/snapshot/cam?token=v1.\(fields[1]).snapshot.\(fields[3]).\(fields[4])", "invalid-signature")
            // Signed with another key.
            let other = LinkKey(bytes: Array(repeating: 7, count: 32))
            try await Self.expectRefused(fixture, "/stream/cam?token=\(LinkToken(stream: "cam", scope: .stream, lifetime: 60).signed(with: other))", "invalid-signature")
            // Not tokens at all.
            fields[0] = "v2"
            for text in ["", "x", "v1", fields.joined(separator: "."), "v1.1.stream.Y2Ft", String(repeating: "a", count: 600), "v1.-5.stream.Y2Ft.\(fields[4])"] {
                try await Self.expectRefused(fixture, "/stream/cam?token=\(text)", "malformed")
            }
            #expect(try await Self.firstFrame(fixture.server, "/stream/cam?token=\(good)").status == 200, "the genuine token still opens")
        }
    }

    @Test func withoutCredentialsTokensAreIgnoredAndEverythingIsOpen() async throws {
        try await Self.withServer(auth: false) { fixture async throws in
            #expect(try await Self.ask(fixture.server, "/api/status?token=garbage").head.status == 200)
            #expect(try await fixture.server.get("/snapshot/yard?token=\(try fixture.token("cam", .stream))").0.status == 200)
        }
    }

    @Test func aNewKeyAtTheReloadRevokesEveryLink() async throws {
        try await Self.withServer { fixture async throws in
            let before = try fixture.token("cam", .stream)
            #expect(try await Self.firstFrame(fixture.server, "/stream/cam?token=\(before)").status == 200)
            // A reload that finds the same key revokes nothing.
            let reload = ["Authorization": Self.authorization]
            #expect(try await Self.ask(fixture.server, "/api/reload", method: "POST", headers: reload).head.status == 200)
            #expect(try await Self.firstFrame(fixture.server, "/stream/cam?token=\(before)").status == 200)
            // New contents.
            try Data((0..<32).map { _ in UInt8.random(in: 0...255) }).write(to: URL(fileURLWithPath: fixture.keyPath))
            #expect(try await Self.firstFrame(fixture.server, "/stream/cam?token=\(before)").status == 200, "read again only at a reload")
            #expect(try await Self.ask(fixture.server, "/api/reload", method: "POST", headers: reload).head.status == 200)
            try await Self.expectRefused(fixture, "/stream/cam?token=\(before)", "invalid-signature")
            let after = try fixture.token("cam", .stream)
            #expect(try await Self.firstFrame(fixture.server, "/stream/cam?token=\(after)").status == 200)
            // Removed: the reload makes a new key (0600) and the links of the old one are void.
            try FileManager.default.removeItem(atPath: fixture.keyPath)
            #expect(try await Self.ask(fixture.server, "/api/reload", method: "POST", headers: reload).head.status == 200)
            #expect(try Self.mode(fixture.keyPath) == 0o600)
            try await Self.expectRefused(fixture, "/stream/cam?token=\(after)", "invalid-signature")
            // A key too short to trust is refused and the running one kept.
            let current = try fixture.token("cam", .stream)
            try Data("short".utf8).write(to: URL(fileURLWithPath: fixture.keyPath))
            #expect(try await Self.ask(fixture.server, "/api/reload", method: "POST", headers: reload).head.status == 200)
            #expect(try await Self.firstFrame(fixture.server, "/stream/cam?token=\(current)").status == 200)
        }
    }

    static func mode(_ path: String) throws -> Int {
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        return (attributes[.posixPermissions] as? Int ?? -1) & 0o777
    }

    @Test func theKeyFileIsMadeWith32RandomBytesForItsOwnerAlone() async throws {
        let folder = try TemporaryDirectory("linkkey")
        let path = folder.file("made.key")
        // Even under a permissive umask.
        let previous = umask(0)
        defer { umask(previous) }
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        _ = try LinkKeyStore(path: path, logger: logger)
        #expect(try Self.mode(path) == 0o600)
        let first = try Data(contentsOf: URL(fileURLWithPath: path))
        #expect(first.count == 32)
        // Read, not made again, at the next start.
        _ = try LinkKeyStore(path: path, logger: logger)
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == first)
        let other = folder.file("other.key")
        _ = try LinkKeyStore(path: other, logger: logger)
        #expect(try Data(contentsOf: URL(fileURLWithPath: other)) != first)
        // Too short, not a file, a folder that does not exist: refused with the reason.
        let short = folder.file("short.key")
        try Data(repeating: 1, count: 15).write(to: URL(fileURLWithPath: short))
        #expect(throws: LinkKey.Failure.self) { try LinkKey.load(path: short, create: true) }
        do {
            _ = try LinkKey.load(path: short, create: true)
        } catch {
            #expect(error.description.contains("fewer than 16"))
        }
        #expect(throws: LinkKey.Failure.self) { try LinkKey.load(path: folder.path, create: true) }
        #expect(throws: LinkKey.Failure.self) { try LinkKey.load(path: folder.file("no/such/folder.key"), create: true) }
        #expect(throws: LinkKey.Failure.self) { try LinkKey.load(path: folder.file("missing.key"), create: false) }
        // Readable by others: used, with a warning.
        let open = folder.file("open.key")
        try Data(repeating: 2, count: 32).write(to: URL(fileURLWithPath: open))
        chmod(open, 0o644)
        #expect(try LinkKey.load(path: open, create: true).warning?.contains("chmod 600") == true)
        #expect(try LinkKey.load(path: path, create: true).warning == nil)
    }

    @Test func lifetimesAreReadWholeAndBounded() {
        let good: [(String, Int64)] = [
            ("1", 1), ("90", 90), ("90s", 90), ("15m", 900), ("1h", 3600), ("7d", 604_800), ("3650d", 315_360_000), ("315360000", 315_360_000),
        ]
        for (text, seconds) in good {
            #expect(LinkLifetime.parse(text) == .success(seconds), "\(text)")
        }
        let bad = [
            "0", "-1", "1e-300", "1e300", "nan", "inf", "18446744073709551617", "", "d", "7x", "7 d", " 7d", "1.5h", "0x10", "+5", "3651d",
            "315360001", "99999999999999d", "7D", "7dd", "٣d",
        ]
        for text in bad {
            guard case .failure(let refusal) = LinkLifetime.parse(text) else {
                Issue.record("'\(text)' was taken as a lifetime")
                continue
            }
            #expect(refusal.description.contains("1 second to 10 years"))
        }
    }

    @Test func theLinkTargetIsReadFromTheExactPictureRoutes() {
        let names = ["cam", "yard"]
        #expect(LinkTarget.of(path: "/stream", action: nil, names: names) == LinkTarget(scope: .stream, stream: "cam"))
        #expect(LinkTarget.of(path: "/snapshot/yard@thumb", action: nil, names: names) == LinkTarget(scope: .snapshot, stream: "yard"))
        #expect(LinkTarget.of(path: "/", action: "snapshot_1", names: names) == LinkTarget(scope: .snapshot, stream: "yard"))
        for path in ["/streams", "/stream/", "/stream/cam/x", "/stream//cam", "/snapshotx", "/ws", "/api/streams/cam", "/metrics", "/index.html"] {
            #expect(LinkTarget.of(path: path, action: nil, names: names) == nil, "\(path)")
        }
        #expect(LinkTarget.of(path: "/", action: nil, names: names) == nil)
        #expect(LinkTarget.of(path: "/", action: "stream_2", names: names) == nil)
    }
}

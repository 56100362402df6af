import Foundation
import FramecastServer
import Testing

/// The outside review's findings, each as the request or flag that broke the server, and the
/// class of input around it: numbers from outside, request deadlines, HEAD, Host and Origin,
/// silent WebSockets, control characters in paths and logs, credentials in status.
@Suite(.serialized) struct HardeningTests {
    /// The hostile numbers every query parameter and flag is fed (the issue's list).
    static let hostileNumbers = ["0", "-0", "-1", "1e-300", "1e300", "nan", "inf", "18446744073709551617", "", "0x10", "1,5", "+5", "1e-11", " 5", "5.", ".5"]

    /// Values a number from outside is refused for, per limit: zero is fine where the range has it.
    static func refused(_ value: String, by limit: BoundedNumber) -> Bool {
        if case .failure = limit.parse(value) { return true }
        return false
    }

    @Test func boundedNumbersRefuseEveryHostileValueAndAcceptTheirRange() {
        for limit in Limits.all {
            for value in Self.hostileNumbers {
                switch limit.parse(value) {
                case .success(let number):
                    // Only plain decimals inside the range get through ("0" and "-0" never: no sign).
                    #expect(value == "0" && limit.minimum == 0, "\(limit.name) accepted '\(value)' as \(number)")
                case .failure(let refusal):
                    #expect(refusal.description.contains(limit.name) && refusal.description.contains("from"), "\(refusal)")
                }
            }
            #expect((try? limit.parse(BoundedNumber.format(limit.maximum)).get()) == limit.maximum)
            #expect((try? limit.parse(BoundedNumber.format(limit.minimum)).get()) == limit.minimum)
        }
        #expect((try? Limits.fps.parse("0.5").get()) == 0.5)
        #expect(Self.refused("2.5", by: Limits.maxAge), "a whole number is required")
    }

    /// `GET /stream?fps=1e-300` aborted the process; every numeric query is now a 400 with a reason.
    @Test func hostileNumbersInQueriesAre400WithAJSONReasonAndTheServerKeepsServing() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120)) { server in
            for value in Self.hostileNumbers {
                let encoded = value.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? value
                var targets = ["/stream?fps=\(encoded)", "/?action=stream&fps=\(encoded)", "/stream/main?fps=\(encoded)"]
                if Self.refused(value, by: Limits.maxAge) { targets += ["/snapshot?max_age=\(encoded)", "/?action=snapshot&max_age=\(encoded)"] }
                for target in targets {
                    let (head, body) = try await withDeadline(10, target) { try await server.get(target) }
                    #expect(head.status == 400, "\(target) answered \(head.status)")
                    let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
                    #expect((json?["error"] as? String)?.contains("must be") == true, "\(target): \(String(decoding: body, as: UTF8.self))")
                }
            }
            #expect(try await server.get("/api/status").0.status == 200)
        }
    }

    /// `--client-timeout 1e17` aborted at start-up: every numeric flag is exit status 2 naming it.
    @Test func hostileNumbersInFlagsExitWithStatus2NamingTheFlagAndItsRange() async throws {
        let flags = [
            Limits.port, Limits.idleTimeout, Limits.frameTimeout, Limits.clientTimeout, Limits.headerTimeout, Limits.maxClients,
            Limits.warmupFrames,
        ]
        for limit in flags {
            for value in Self.hostileNumbers where Self.refused(value, by: limit) {
                let (status, _, error) = try await FramecastProcess.runToExit([limit.name, value, "--check"], timeout: 20)
                #expect(status == 2, "\(limit.name) \(value.debugDescription) exited \(status): \(error)")
                #expect(error.contains(limit.name) && error.contains("from"), "\(limit.name) \(value.debugDescription): \(error)")
            }
        }
        for value in Self.hostileNumbers where Self.refused(value, by: Limits.checkTimeout) {
            let (status, _, error) = try await FramecastProcess.runToExit(["check", "--timeout", value, "/nonexistent"], timeout: 20)
            #expect(status == 2 && error.contains("--timeout"), "check --timeout \(value.debugDescription): \(status) \(error)")
        }
        // The largest values in range start and serve (no later conversion traps).
        let process = try await FramecastProcess.serve([
            "--pipeline", TestPipelines.pattern(width: 160, height: 120), "--client-timeout", "86400", "--header-timeout", "3600",
            "--frame-timeout", "3600", "--idle-timeout", "604800",
        ])
        defer { process.terminate() }
        try await process.server.stream(query: "?fps=0.001") { reader, parts in _ = try #require(try await parts.next(&reader)) }
        #expect(process.process.isRunning)
    }

    /// Leading blank lines (which the HTTP parser skips) once cleared the header deadline; a body
    /// sent a byte at a time reset the idle timer forever. One deadline now covers the request.
    /// A body on a route that takes none is answered at once and closed (`earliest` 0); the rest
    /// run into the deadline.
    @Test(arguments: [
        ("leading CRLF, then a head that never ends", "\r\n\r\nGET /api/status HTTP/1.1\r\n", "X", 0.7),
        ("a body a byte at a time", "POST /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n", "a", 0),
        ("a chunked body a byte at a time", "POST /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n1000\r\n", "b", 0),
        ("a stream request whose body never ends", "GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000\r\n\r\n", "c", 0.7),
        ("nothing at all", "", "", 0.7),
        ("a kept-alive connection that never sends its second request", "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /healthz HTTP/1.1\r\n", "Y", 0.7),
    ])
    func slowRequestsAreClosedAtTheDeadlineHoweverTheyTrickle(label: String, opening: String, trickle: String, earliest: Double) async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: { $0.headerTimeout = 1 }) { server in
            let clients = try (0..<5).map { _ in try StalledClient(port: server.port, request: Array(opening.utf8)) }
            let started = Date()
            try await eventually(6, "\(label): every connection closed") {
                for client in clients { client.sendNow(Array(trickle.utf8)) }
                return clients.allSatisfy { $0.drainsToEndOfFile(within: 0.05) }
            }
            let after = Date().timeIntervalSince(started)
            #expect(after >= earliest, "\(label): closed after \(after) s with a 1 s deadline")
            #expect(try await server.get("/api/status").0.status == 200)
        }
    }

    /// A request with a body on a route that takes none is answered, then closed.
    @Test func aRequestWithABodyIsAnsweredAndClosed() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120)) { server in
            let request = "POST /api/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n\r\nhello"
            let status = try await withHTTPRequest(port: server.port, path: "/", rawRequest: request) { reader in
                _ = try await reader.readToEnd()
                return reader.head.status
            }
            #expect(status == 405)
            let client = try StalledClient(port: server.port, request: Array(request.utf8))
            #expect(client.drainsToEndOfFile(within: 5), "the connection stayed open after the answer")
        }
    }

    /// `HEAD /?action=stream` streamed megabytes; `HEAD /api/status` was 404.
    @Test func headAnswersWhatGetWouldWithNoBodyAndNeverAttachesAStreamClient() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120)) { server in
            let routes = [
                "/", "/index.html", "/app.js", "/stream", "/stream/main", "/snapshot", "/snapshot/main", "/api/status", "/api/streams",
                "/api/streams/main", "/metrics", "/healthz", "/?action=stream", "/?action=snapshot", "/?action=stream_0", "/stream/nope",
                "/?action=stream_7",
            ]
            for route in routes {
                let get = try await withDeadline(10, "GET \(route)") {
                    try await withHTTPRequest(port: server.port, path: route, headers: ["Connection": "close"]) { $0.head }
                }
                // HEAD, then a second request on the same connection: a body after HEAD would be
                // read as the second response's head.
                let raw = "HEAD \(route) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\nGET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                let bytes = try await withDeadline(15, "HEAD \(route)") { try rawExchange(port: server.port, Array(raw.utf8)) }
                let text = String(decoding: bytes, as: UTF8.self)
                let responses = text.components(separatedBy: "\r\n\r\n")
                let head = ResponseHead(status: Int(responses[0].split(separator: " ").dropFirst().first ?? "") ?? 0, headers: responses[0]
                    .components(separatedBy: "\r\n").dropFirst().compactMap { line in
                        line.firstIndex(of: ":").map { (String(line[..<$0]), line[line.index(after: $0)...].trimmingCharacters(in: .whitespaces)) }
                    })
                #expect(responses.count == 3 && responses[1].hasPrefix("HTTP/1.1 200") && responses[2] == "{\"status\":\"ok\"}",
                    "HEAD \(route) then GET /healthz read \(text.prefix(600).debugDescription)")
                #expect(head.status == get.status, "HEAD \(route): \(head.status), GET: \(get.status)")
                #expect(head.header("content-type") == get.header("content-type"), "HEAD \(route)")
                // Status and snapshots change between the two requests; files and errors do not.
                if ["/", "/index.html", "/app.js", "/healthz", "/stream/nope", "/?action=stream_7"].contains(route) {
                    #expect(head.header("content-length") == get.header("content-length"), "HEAD \(route)")
                }
            }
            try await eventually(5, "no stream client left") { (try await server.status()["clients"] as? Int) == 0 }
        }
    }

    /// DNS rebinding: a page on another site reads a server bound to 127.0.0.1 under its own name.
    @Test func onALoopbackBindOnlyLoopbackNamesAndAllowedHostsAreServed() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: { $0.allowHosts = ["cam.local"] }) { server in
            for (host, expected) in [
                ("localhost:\(server.port)", 200), ("127.0.0.1", 200), ("[::1]:80", 200), ("LOCALHOST", 200), ("cam.local:8080", 200),
                ("evil.example", 421), ("evil.example:\(server.port)", 421), ("127.0.0.1.evil.example", 421), ("localhost.", 421),
                ("a b", 400), ("[::1", 400), ("localhost:99999999", 400),
            ] {
                for path in ["/api/status", "/snapshot", "/stream", "/ws", "/"] {
                    let raw = "GET \(path) HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
                    let status = try await withHTTPRequest(port: server.port, path: path, rawRequest: raw) { $0.head.status }
                    // A GET of /ws without an upgrade is simply not found, once the host is accepted.
                    let wanted = path == "/ws" && expected == 200 ? 404 : expected
                    #expect(status == wanted, "Host: \(host) \(path) answered \(status)")
                }
            }
            let missing = try await withHTTPRequest(port: server.port, path: "/", rawRequest: "GET /api/status HTTP/1.1\r\n\r\n") { $0.head.status }
            #expect(missing == 400)
            let twice = "GET /api/status HTTP/1.1\r\nHost: localhost\r\nHost: evil.example\r\n\r\n"
            #expect(try await withHTTPRequest(port: server.port, path: "/", rawRequest: twice) { $0.head.status } == 400)
        }
    }

    /// What the fuzzer found the host-name reader let through, and --allow-host values that are no
    /// host name (refused at start-up, exit status 2).
    @Test func hostNamesAreReadStrictly() async throws {
        for bad in ["[\u{FF46}::1]", "[]", "[...]", "localhost:99999", "-", "..", "a b", "http://cam.local/", "cam\n", ""] {
            #expect(ServerConfiguration.allowHostProblem(bad) != nil, "\(bad.debugDescription) was taken for a host name")
        }
        for good in ["cam.local", "CAM.local:8080", "[::1]", "[fe80::1]:80", "192.168.1.20"] {
            #expect(ServerConfiguration.allowHostProblem(good) == nil, "\(good)")
        }
        let (status, _, error) = try await FramecastProcess.runToExit(["--allow-host", "http://cam.local/", "--check"])
        #expect(status == 2 && error.contains("--allow-host"), "\(status) \(error)")
    }

    @Test func mjpgStreamerActionsThatAreNoStreamNumberAre400() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120)) { server in
            for (action, expected) in [
                ("stream_abc", 400), ("stream_", 400), ("stream_-1", 400), ("stream_99999999999999999999", 400), ("brew", 400),
                ("stream_1", 404), ("snapshot_7", 404), ("snapshot_0", 200),
            ] {
                let status = try await server.get("/?action=\(action)").0.status
                #expect(status == expected, "\(action)")
            }
        }
    }

    @Test func onOtherBindsAllowHostRestrictsTheNamesServed() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: { $0.host = "0.0.0.0" }) { server in
            let raw = "GET /api/status HTTP/1.1\r\nHost: any.example\r\nConnection: close\r\n\r\n"
            let status = try await withHTTPRequest(port: server.port, path: "/", rawRequest: raw) { $0.head.status }
            #expect(status == 200)
        }
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: {
            $0.host = "0.0.0.0"
            $0.allowHosts = ["cam.example"]
        }) { server in
            for (host, expected) in [("any.example", 421), ("cam.example:80", 200), ("localhost", 421)] {
                let raw = "GET /api/status HTTP/1.1\r\nHost: \(host)\r\nConnection: close\r\n\r\n"
                let status = try await withHTTPRequest(port: server.port, path: "/", rawRequest: raw) { $0.head.status }
                #expect(status == expected, "\(host)")
            }
        }
    }

    /// Cross-site WebSocket hijacking: any page could open `/ws` and read the cameras.
    @Test func theWebSocketUpgradeIsRefusedForAForeignOrigin() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: { $0.allowOrigin = "https://dashboard.example" }) { server in
            let port = server.port
            for (origin, expected) in [
                (nil, 101), ("http://127.0.0.1:\(port)", 101), ("HTTP://127.0.0.1:\(port)/", 101), ("https://dashboard.example", 101),
                ("http://evil.example", 403), ("null", 403), ("http://127.0.0.1:\(port + 1)", 403), ("http://127.0.0.1", 403),
                ("https://dashboard.example.evil", 403), ("file://", 403),
            ] as [(String?, Int)] {
                var headers = WebSocketTestClient.upgradeHeaders
                headers["Origin"] = origin
                let status = try await withHTTPRequest(port: port, path: "/ws", headers: headers) { $0.head.status }
                #expect(status == expected, "Origin \(origin ?? "none") answered \(status)")
            }
        }
    }

    /// Three WebSockets that never subscribed kept `/stream` at 503 with `--max-clients 3`.
    @Test func silentWebSocketsNeitherHoldClientSlotsNorStayOpen() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: {
            $0.maxClients = 1
            $0.webSocketSubscribeTimeout = 1
        }) { server in
            let silent = try (0..<3).map { _ in try StalledClient(port: server.port, request: WebSocketTestClient.upgradeRequest()) }
            try await server.stream { reader, parts in _ = try #require(try await parts.next(&reader)) }
            try await eventually(8, "silent WebSockets closed") { silent.allSatisfy { $0.drainsToEndOfFile(within: 0.05) } }
            // One that subscribes stays, and takes the one slot while it wants a stream.
            try await withHTTPRequest(port: server.port, path: "/ws", headers: WebSocketTestClient.upgradeHeaders) { reader in
                #expect(reader.head.status == 101)
                try await WebSocketTestClient.sendText("{\"streams\": [\"main\"]}", on: reader)
                guard case .binary = try await WebSocketTestClient.next(&reader) else { throw HTTPTestError.malformed("no frame") }
                let refused = try await server.get("/stream").0.status
                #expect(refused == 503)
                try await WebSocketTestClient.sendText("{\"streams\": []}", on: reader)
                try await eventually(5, "the slot is free again") {
                    let clients = try await server.status()["serverClients"] as? Int
                    return clients == 0
                }
                // Subscribed (to nothing) for longer than the subscribe timeout: still open.
                try await Task.sleep(for: .milliseconds(1500))
                try await WebSocketTestClient.sendText("{\"streams\": [\"main\"]}", on: reader)
                guard case .binary = try await WebSocketTestClient.next(&reader) else { throw HTTPTestError.malformed("closed") }
            }
        }
    }

    // MARK: - What a second review found

    /// An `Upgrade` header that does not upgrade once removed the gate for the rest of the
    /// connection: Host, path and deadline checks were gone.
    @Test func anUpgradeHeaderThatDoesNotUpgradeKeepsEveryCheck() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: { $0.headerTimeout = 1 }) { server in
            for upgrade in ["WebSocket", "h2c, websocket", "websocket"] {
                let raw = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
                    + "GET /healthz HTTP/1.1\r\nHost: localhost\r\nUpgrade: \(upgrade)\r\n\r\n"
                    + "GET /api/status HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
                let text = String(decoding: try await withDeadline(15, upgrade) { try rawExchange(port: server.port, Array(raw.utf8)) }, as: UTF8.self)
                #expect(!text.contains("\"pipeline\""), "Upgrade: \(upgrade) let a foreign Host read the status: \(text.prefix(400))")
            }
            // The first request with an Upgrade but no `Connection: upgrade` is plain HTTP: the
            // checks stay for the next one.
            let raw = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\r\n"
                + "GET /api/status HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n"
            let text = String(decoding: try rawExchange(port: server.port, Array(raw.utf8)), as: UTF8.self)
            #expect(!text.contains("\"pipeline\""), "\(text.prefix(400))")
            // And a trickled body on such a connection still runs into the deadline.
            let trickler = try StalledClient(
                port: server.port,
                request: Array("GET /healthz HTTP/1.1\r\nHost: localhost\r\nUpgrade: WebSocket\r\n\r\nPOST /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 100\r\n\r\n".utf8))
            try await eventually(6, "the trickler closed") {
                trickler.sendNow(Array("x".utf8))
                return trickler.drainsToEndOfFile(within: 0.1)
            }
        }
    }

    /// The deadline was set again when a response was queued, not sent, and while pipelined
    /// requests were still being answered: a slow answer was cut short.
    @Test func pipelinedRequestsAreAnsweredInOrderEvenPastTheDeadline() async throws {
        // One frame every two seconds: a snapshot captured after the request takes up to 2 s.
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120, fps: "1/2"), configure: { $0.headerTimeout = 1 }) { server in
            let raw = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n"
                + "GET /snapshot?max_age=0 HTTP/1.1\r\nHost: localhost\r\n\r\n"
                + "GET /api/status HTTP/1.1\r\nHost: evil.example\r\n\r\n"
            let bytes = try await withDeadline(20, "pipelined") { try rawExchange(port: server.port, Array(raw.utf8)) }
            let text = String(decoding: bytes, as: UTF8.self)
            let statuses = text.components(separatedBy: "HTTP/1.1 ").dropFirst().map { $0.prefix(3) }
            // In order: the health check, the snapshot (2 s later, past the 1 s deadline), then the
            // refusal of the foreign Host; then the connection closes.
            #expect(statuses == ["200", "200", "421"], "\(statuses) \(text.prefix(300).debugDescription)")
        }
    }

    @Test func refusedRequestsLogNoErrorAndAnAbsoluteTargetsHostIsChecked() async throws {
        let process = try await FramecastProcess.serve(["--pipeline", TestPipelines.pattern(width: 160, height: 120)])
        defer { process.terminate() }
        for _ in 0..<20 {
            let raw = "GET /api/status HTTP/1.1\r\nHost: evil.example\r\n\r\n"
            #expect(try await withHTTPRequest(port: process.port, path: "/", rawRequest: raw) { $0.head.status } == 421)
        }
        let absolute = "GET http://evil.example/api/status HTTP/1.1\r\nHost: localhost\r\n\r\n"
        #expect(try await withHTTPRequest(port: process.port, path: "/", rawRequest: absolute) { $0.head.status } == 421)
        let own = "GET http://localhost/api/status HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        #expect(try await withHTTPRequest(port: process.port, path: "/", rawRequest: own) { $0.head.status } == 200)
        #expect(try await process.server.get("/api/status").0.status == 200)
        #expect(!process.standardErrorText.contains(" error "), "\(process.standardErrorText.suffix(600))")
    }

    /// Sockets that asked only for streams that do not exist held `--max-clients` slots.
    @Test func webSocketsWantingOnlyUnknownStreamsHoldNoSlot() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: { $0.maxClients = 1 }) { server in
            try await withHTTPRequest(port: server.port, path: "/ws", headers: WebSocketTestClient.upgradeHeaders) { reader in
                try await WebSocketTestClient.sendText("{\"streams\": [\"nope\"]}", on: reader)
                guard case .text(let reply) = try await WebSocketTestClient.next(&reader) else { throw HTTPTestError.malformed("no reply") }
                #expect(reply.contains("no such stream"))
                try await server.stream { reader, parts in _ = try #require(try await parts.next(&reader)) }
            }
        }
    }

    /// A subscribed session whose client stops answering pings (and reading) is closed after
    /// `--client-timeout`, not kept for as long as the kernel buffers hold out.
    @Test func aSubscribedWebSocketThatAnswersNoPingIsClosed() async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120), configure: { $0.clientTimeout = 1 }) { server in
            let silent = try StalledClient(
                port: server.port, request: WebSocketTestClient.upgradeRequest() + WebSocketTestClient.textFrame("{\"streams\": [\"main\"]}"))
            let started = Date()
            try await eventually(10, "the silent subscriber closed") { silent.isClosedByPeer() || silent.drainsToEndOfFile(within: 0.05) }
            let after = Date().timeIntervalSince(started)
            #expect(after >= 0.9, "closed after \(after) s with a 1 s client timeout")
        }
    }

    /// `/app.js%00.html` was served as text/html.
    @Test(arguments: ["/app.js%00.html", "/app.js%00", "/%0d%0aSet-Cookie:x", "/index.html%7f", "/app.js%1b", "/%zz", "/app.js%0"])
    func pathsWithControlCharactersAre400(path: String) async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 160, height: 120)) { server in
            let (head, _) = try await server.get(path)
            #expect(head.status == 400, "\(path) answered \(head.status)")
        }
    }

    /// A Basic user name holding a newline wrote a log line of its own.
    @Test func userSuppliedTextCannotForgeALogLine() async throws {
        let process = try await FramecastProcess.serve(
            ["--pipeline", TestPipelines.pattern(width: 160, height: 120), "--auth", "admin:pw"], awaitStatus: 401)
        defer { process.terminate() }
        let forged = "evil\n2026-12-01T00:00:00+0000 critical framecast: FORGED\r\u{1B}[2J"
        let header = "Basic " + Data("\(forged):x".utf8).base64EncodedString()
        #expect(try await process.server.get("/api/status", headers: ["Authorization": header]).0.status == 401)
        try await eventually(5, "the failure logged") { process.standardErrorText.contains("authentication failed") }
        let lines = process.standardErrorText.split(whereSeparator: \.isNewline)
        #expect(!lines.contains { $0.hasPrefix("2026-12-01T00:00:00") }, "a forged line reached the log")
        #expect(!process.standardErrorText.contains("\u{1B}"))
        #expect(process.standardErrorText.contains("evil\\n2026"))
        // A user name with spaces and `=` stays one quoted field (a log reader cannot take a
        // forged `address=` for the real one).
        let fields = "Basic " + Data("eve address=10.9.9.9 x:y".utf8).base64EncodedString()
        #expect(try await process.server.get("/api/status", headers: ["Authorization": fields]).0.status == 401)
        try await eventually(5, "the quoted user logged") { process.standardErrorText.contains("user=\"eve address=10.9.9.9 x\"") }
    }

    /// Camera passwords in pipeline URLs stay out of the status API and `--check`'s output.
    @Test func passwordsInPipelineURLsAreMaskedInStatusAndCheck() async throws {
        let pipeline = TestPipelines.pattern(width: 160, height: 120, extra: "! textoverlay text=rtsp://admin:s3cret@cam.local:554/live?x=1")
        try await TestServer.run(pipeline: pipeline) { server in
            let (_, body) = try await server.get("/api/streams")
            let text = String(decoding: body, as: UTF8.self)
            #expect(!text.contains("s3cret"))
            #expect(text.contains("rtsp:\\/\\/admin:***@cam.local:554\\/live?x=1") || text.contains("rtsp://admin:***@cam.local:554/live?x=1"), "\(text)")
        }
        let (status, output, _) = try await FramecastProcess.runToExit(["--pipeline", pipeline, "--check"])
        #expect(status == 0)
        #expect(!output.contains("s3cret") && output.contains("admin:***@"), "\(output)")
        #expect(CredentialMask.mask("a http://u@h/x b rtsp://u:p@h:1 c://") == "a http://***@h/x b rtsp://u:***@h:1 c://")
        for (text, secret) in [
            ("location=http://cam.local/x?user=admin&pwd=s3cret&x=1", "s3cret"), ("rtspsrc user-pw=s3cret user-id=admin", "s3cret"),
            ("souphttpsrc proxy-pw=s3cret2", "s3cret2"), ("location=\"http://admin:s3 cret@cam.local/x\"", "s3 cret"),
            ("password='a b c' x", "a b c"), ("https://cam/?token=abc123", "abc123"),
        ] {
            let masked = CredentialMask.mask(text)
            #expect(!masked.contains(secret), "\(text) → \(masked)")
        }
        #expect(CredentialMask.mask("x264enc key-int-max=30 bypass=1") == "x264enc key-int-max=30 bypass=1")
    }
}

/// Writes `request` on a new blocking connection and reads until the server closes it (at most
/// ten seconds).
func rawExchange(port: Int, _ request: [UInt8]) throws -> [UInt8] {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    guard connectToLoopback(fd, port: port) else { throw HTTPTestError.closed("connecting") }
    var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    var received: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65536)
    let deadline = Date().addingTimeInterval(10)
    while Date() < deadline, received.count < 4 << 20 {
        let count = recv(fd, &buffer, buffer.count, 0)
        if count == 0 { break }
        if count < 0 {
            if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
            break
        }
        received += buffer[..<count]
    }
    return received
}

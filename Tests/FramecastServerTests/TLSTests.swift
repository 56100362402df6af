@testable import FramecastServer
import HTTPTypes
import Foundation
import Logging
import Testing

/// HTTPS with `--tls-cert`/`--tls-key`: HTTP/2 by ALPN, HTTP/1.1 for the rest, every endpoint over
/// both, a slow HTTP/2 stream beside a fast one, the redirect port, HSTS, and a certificate
/// renewed on disk while viewers watch. Real clients: curl (OpenSSL + nghttp2) and swift-nio-http2.
@Suite(.serialized)
struct TLSTests {
    static let pipeline = TestPipelines.pattern(width: 160, height: 120, fps: "20/1")

    /// A server with a fresh certificate; `configure` adds to it.
    static func withHTTPSServer<T: Sendable>(_ body: @escaping @Sendable (TestServer) async throws -> T) async throws -> T {
        try await withHTTPSServer(configure: { _ in }, body)
    }

    static func withHTTPSServer<T: Sendable>(
        configure: @escaping @Sendable (inout ServerConfiguration) -> Void,
        _ body: @escaping @Sendable (TestServer) async throws -> T
    ) async throws -> T {
        let certificates = try TestCertificates()
        try certificates.make(commonName: "framecast-test")
        let store = try TLSCertificates(certificatePath: certificates.certificate, keyPath: certificates.key)
        return try await TestServer.run(pipeline: pipeline, configure: { configuration in
            configuration.tls = store
            configure(&configuration)
        }, body)
    }

    @Test func alpnGivesHTTP2ToAnHTTP2ClientAndHTTP1ToTheOthers() async throws {
        try await Self.withHTTPSServer { server async throws in
            let url = "https://127.0.0.1:\(server.port)/api/status"
            #expect(try Curl.writeOut("%{http_version} %{http_code}", ["--http2", url]) == "2 200")
            #expect(try Curl.writeOut("%{http_version} %{http_code}", ["--http1.1", url]) == "1.1 200")
            // No ALPN at all (an old client): HTTP/1.1.
            #expect(try Curl.writeOut("%{http_version} %{http_code}", ["--http1.1", "--no-alpn", url]) == "1.1 200")
            // Plain HTTP on the HTTPS port gets no answer, and the server goes on.
            #expect(try Curl.writeOut("%{http_code}", ["http://127.0.0.1:\(server.port)/api/status"]) == "000")
            #expect(try Curl.writeOut("%{http_version} %{http_code}", ["--http2", url]) == "2 200")
        }
    }

    @Test(arguments: ["--http2", "--http1.1"])
    func everyEndpointAnswersOverBothVersions(version: String) async throws {
        try await Self.withHTTPSServer { server async throws in
            let base = "https://127.0.0.1:\(server.port)"
            for (path, status) in [("/", "200"), ("/api/status", "200"), ("/api/streams", "200"), ("/metrics", "200"), ("/healthz", "200"), ("/snapshot", "200"), ("/nope", "404"), ("/stream/nope", "404")] {
                #expect(try Curl.writeOut("%{http_code}", [version, base + path]) == status, "\(version) \(path)")
            }
            // HEAD and an unknown method.
            #expect(try Curl.writeOut("%{http_code}", [version, "-I", base + "/snapshot"]) == "200")
            #expect(try Curl.writeOut("%{http_code}", [version, "-X", "PATCH", base + "/api/status"]) == "405")
            let directory = try TemporaryDirectory("h2snapshot")
            _ = try Curl.run([version, "-o", directory.file("snapshot.jpg"), base + "/snapshot"])
            let snapshot = try [UInt8](Data(contentsOf: directory.url.appendingPathComponent("snapshot.jpg")))
            #expect(snapshot.starts(with: [0xFF, 0xD8]) && snapshot.suffix(2) == [0xFF, 0xD9])
        }
    }

    /// A multipart stream over HTTP/2, read by curl: whole parts, each a JPEG with its timestamp.
    @Test func aMultipartStreamOverHTTP2IsDecodedByCurl() async throws {
        try await Self.withHTTPSServer { server async throws in
            let directory = try TemporaryDirectory("h2stream")
            let file = directory.file("stream.bin")
            let result = try Curl.run(
                ["--http2", "-o", file, "-w", "%{http_version} %{http_code}", "https://127.0.0.1:\(server.port)/stream?framing=length"], timeout: 2)
            #expect(result.output == "2 200", "\(result.error)")
            let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: file)))
            let parts = MultipartBytes.parts(bytes)
            #expect(parts.count >= 10, "\(parts.count) parts in 2 s at 20 fps")
            for part in parts {
                #expect(part.jpeg.starts(with: [0xFF, 0xD8]) && part.jpeg.suffix(2) == [0xFF, 0xD9])
                #expect(part.timestamp != nil)
            }
        }
    }

    /// One connection, two streams: one read at once, one whose reader takes what came only every
    /// 300 ms (its flow-control window stays shut meanwhile). The fast one keeps the source's rate;
    /// the slow one gets fewer frames, and each is the newest, under 500 ms old, not a backlog.
    @Test func aSlowHTTP2StreamSkipsFramesWithoutHoldingBackTheFastOne() async throws {
        try await Self.withHTTPSServer { server async throws in
            let client = try await HTTP2TestClient.connect(port: server.port, initialWindow: 8192)
            let fast = try await client.get("/stream?framing=length")
            let slow = try await client.get("/stream?framing=length", autoRead: false)
            let start = Date()
            while Date().timeIntervalSince(start) < 4 {
                try await Task.sleep(for: .milliseconds(300))
                slow.read()
            }
            let window = fast.parts.filter { $0.arrived > start.timeIntervalSince1970 + 1 }
            #expect(fast.status == 200 && slow.status == 200)
            #expect(Double(window.count) >= 20 * 3 * 0.6, "fast stream: \(window.count) parts in 3 s of a 20 fps source")
            let slowParts = slow.parts.filter { $0.arrived > start.timeIntervalSince1970 + 1 }
            #expect(slowParts.count >= 3, "slow stream: \(slowParts.count) parts")
            #expect(slowParts.count < window.count)
            let ages = slowParts.compactMap { part in part.timestamp.map { part.arrived - $0 } }
            #expect(ages.count == slowParts.count)
            let fastAges = window.suffix(10).compactMap { part in part.timestamp.map { part.arrived - $0 } }
            #expect(ages.allSatisfy { $0 < 0.5 }, "slow stream's frame ages: \(ages.map { String(format: "%.3f", $0) }); fast: \(fastAges.map { String(format: "%.3f", $0) })")
            await client.close()
        }
    }

    /// A stream whose reader stopped for longer than `--client-timeout` is reset; its connection's
    /// other stream goes on.
    @Test func aStalledHTTP2StreamIsResetAfterTheClientTimeoutAndItsNeighbourGoesOn() async throws {
        try await Self.withHTTPSServer(configure: { $0.clientTimeout = 1 }) { server async throws in
            let client = try await HTTP2TestClient.connect(port: server.port, initialWindow: 8192)
            let fast = try await client.get("/stream?framing=length")
            let stalled = try await client.get("/stream?framing=length", autoRead: false)
            try await eventually(10, "the stalled stream to be reset") { stalled.ended }
            let before = fast.parts.count
            try await eventually(5, "the fast stream to go on") { fast.parts.count >= before + 10 }
            #expect(!fast.ended)
            await client.close()
        }
    }

    /// The Host check applies to `:authority` (DNS rebinding works the same over HTTP/2).
    @Test func aForeignAuthorityIsRefusedOverHTTP2() async throws {
        try await Self.withHTTPSServer { server async throws in
            let client = try await HTTP2TestClient.connect(port: server.port)
            let foreign = try await client.get("/api/status", authority: "evil.example")
            let own = try await client.get("/api/status", authority: "localhost:\(server.port)")
            try await eventually(5, "both answers") { foreign.ended && own.ended }
            #expect(foreign.status == 421)
            #expect(String(decoding: foreign.body, as: UTF8.self).contains("evil.example"))
            #expect(own.status == 200)
            await client.close()
        }
    }

    /// The handshake is under the request deadline: a client that connects and sends nothing, or
    /// half a ClientHello, is closed after `--header-timeout`; one that completes an idle HTTP/2
    /// connection is closed after it too.
    @Test func silentAndTrickledHandshakesAreClosedAtTheHeaderTimeout() async throws {
        try await Self.withHTTPSServer(configure: { $0.headerTimeout = 1 }) { server async throws in
            let silent = try StalledClient(port: server.port, request: [])
            // A TLS record header announcing a ClientHello that never comes.
            let trickled = try StalledClient(port: server.port, request: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
            #expect(silent.drainsToEndOfFile(within: 5))
            #expect(trickled.drainsToEndOfFile(within: 5))
            let client = try await HTTP2TestClient.connect(port: server.port)
            let status = try await client.get("/api/status")
            try await eventually(5, "the status") { status.ended }
            try await eventually(5, "the idle HTTP/2 connection to be closed") { !client.channel.isActive }
        }
    }

    /// Over HTTPS the session cookie is `Secure` and the links the API hands out say `https`.
    @Test func cookiesAreSecureAndLinksHTTPSOverTLS() async throws {
        let keys = try TemporaryDirectory("tlslinks")
        let access = try AccessControl.single("viewer:secret")
        let links = try LinkKeyStore(path: keys.file("link.key"), logger: Logger(label: "test"))
        try await Self.withHTTPSServer(configure: { configuration in
            configuration.access = access
            configuration.links = links
        }) { server async throws in
            let base = "https://localhost:\(server.port)"
            let head = try Curl.run(["-u", "viewer:secret", "-D", "-", "-o", "/dev/null", base + "/api/status"]).output.lowercased()
            let cookie = try #require(head.split(separator: "\r\n").first { $0.hasPrefix("set-cookie:") })
            #expect(cookie.contains("; secure") && cookie.contains("httponly") && cookie.contains("samesite=strict"), "\(cookie)")
            let made = try Curl.run(["-u", "viewer:secret", "-X", "POST", base + "/api/links?stream=main"]).output
            let json = try #require(try JSONSerialization.jsonObject(with: Data(made.utf8)) as? [String: Any], "\(made)")
            let url = try #require(json["url"] as? String)
            #expect(url.hasPrefix("https://localhost:\(server.port)/stream/main?token="), "\(url)")
            // The link opens the stream over HTTP/2 without credentials.
            #expect(try Curl.writeOut("%{http_version} %{http_code}", ["--http2", "-I", url]) == "2 200")
        }
    }

    /// Raw HTTP/2 over TLS (Python's ssl module, frames written by hand): what no real client
    /// library lets a test do on purpose. Returns what the probe printed.
    static func probe(_ mode: String, port: Int, seconds: Double = 15) throws -> String {
        let directory = try TemporaryDirectory("h2probe")
        let script = directory.file("probe.py")
        try H2Probe.script.write(toFile: script, atomically: true, encoding: .utf8)
        return try runToExit("/usr/bin/python3", [script, mode, String(port), String(seconds)]).output.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// A connection that says nothing after its settings (nor acknowledges a PING) is closed at
    /// the header timeout; a stream whose request never ends is reset at it.
    @Test func silentHTTP2ConnectionsAndUnendedRequestsAreClosedAtTheHeaderTimeout() async throws {
        try await Self.withHTTPSServer(configure: { $0.headerTimeout = 1 }) { server async throws in
            let silent = try Self.probe("silent", port: server.port)
            #expect(silent.hasPrefix("closed"), "\(silent)")
            let unended = try Self.probe("unended", port: server.port)
            #expect(unended.hasPrefix("reset"), "\(unended)")
        }
    }

    /// A reader that grants a byte of window at a time receives nothing, and is a stalled client:
    /// reset at the client timeout, however often it grants.
    @Test func aStreamWhoseReaderGrantsAByteAtATimeIsResetAtTheClientTimeout() async throws {
        try await Self.withHTTPSServer(configure: { $0.clientTimeout = 1 }) { server async throws in
            let trickle = try Self.probe("trickle", port: server.port)
            #expect(trickle.hasPrefix("reset") || trickle.hasPrefix("closed"), "\(trickle)")
            let seconds = Double(trickle.split(separator: " ").last ?? "") ?? 99
            #expect(seconds < 4, "\(trickle)")
        }
    }

    /// `Host` and `:authority` naming different hosts is a malformed request (400).
    @Test func hostAndAuthorityMustAgree() async throws {
        try await Self.withHTTPSServer { server async throws in
            // 0x8c: the static table's `:status 400`.
            #expect(try Self.probe("hosts", port: server.port).hasPrefix("status 8c"))
        }
    }

    /// Frames larger than the client's window (64 KB, what nghttp2 and python-h2 grant) keep
    /// flowing: the server does not wait for a window the client only grants as it reads.
    @Test func framesLargerThanTheDefaultWindowKeepFlowing() async throws {
        let snow = TestPipelines.pattern(width: 640, height: 480, fps: "10/1").replacingOccurrences(of: "pattern=ball", with: "pattern=snow")
        try await Self.withHTTPSServer(configure: { $0.streams = [StreamDefinition(name: "main", pipeline: snow)] }) { server async throws in
            let client = try await HTTP2TestClient.connect(port: server.port, initialWindow: 65535)
            let stream = try await client.get("/stream?framing=length")
            try await eventually(10, "15 frames") { stream.parts.count >= 15 }
            #expect(stream.parts.map(\.length).max() ?? 0 > 65535, "the frames are larger than the window")
            await client.close()
        }
    }

    /// TLS 1.0 and 1.1 are refused (HTTP/2 requires 1.2, and nothing older is offered).
    @Test func tlsOlderThan12IsRefused() async throws {
        try await Self.withHTTPSServer { server async throws in
            let url = "https://127.0.0.1:\(server.port)/healthz"
            #expect(try Curl.writeOut("%{http_code}", ["--tlsv1.0", "--tls-max", "1.1", "--ciphers", "DEFAULT:@SECLEVEL=0", url]) == "000")
            #expect(try Curl.writeOut("%{http_code}", ["--tlsv1.2", "--tls-max", "1.2", url]) == "200")
        }
    }

    @Test func hstsIsSentOnlyWhenAskedFor() async throws {
        try await Self.withHTTPSServer(configure: { $0.hstsMaxAge = 31_536_000 }) { server async throws in
            let head = try Curl.run(["-I", "https://127.0.0.1:\(server.port)/api/status"]).output.lowercased()
            #expect(head.contains("strict-transport-security: max-age=31536000"))
        }
        try await Self.withHTTPSServer { server async throws in
            let head = try Curl.run(["-I", "https://127.0.0.1:\(server.port)/api/status"]).output.lowercased()
            #expect(!head.contains("strict-transport-security"))
        }
    }

    /// Targets that are no path (`OPTIONS *`, `CONNECT host:port`) get no Location built from them.
    @Test func redirectsNeedAPath() {
        for path in ["*", "evil.example:443", ""] {
            let request = HTTPRequest(method: .options, scheme: nil, authority: nil, path: path, headerFields: [HTTPField.Name("Host")!: "localhost"])
            #expect(HTTPSRedirect.answer(request, httpsPort: 8443).status == .badRequest, "\(path)")
        }
        let request = HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/a?b=c", headerFields: [HTTPField.Name("Host")!: "localhost:8080"])
        #expect(HTTPSRedirect.answer(request, httpsPort: 8443).headerFields[.location] == "https://localhost:8443/a?b=c")
        #expect(HTTPSRedirect.answer(request, httpsPort: 443).headerFields[.location] == "https://localhost/a?b=c")
    }

    @Test func theRedirectPortSendsEveryRequestToHTTPS() async throws {
        let redirectPort = try FramecastProcess.freePort()
        try await Self.withHTTPSServer(configure: { $0.redirectHTTPPort = redirectPort }) { server async throws in
            let base = "http://localhost:\(redirectPort)"
            try await eventually(10, "the redirect port to answer") {
                (try? Curl.writeOut("%{http_code}", [base + "/"])) == "308"
            }
            let location = try Curl.writeOut("%{redirect_url}", [base + "/stream/test?fps=5"])
            #expect(location == "https://localhost:\(server.port)/stream/test?fps=5")
            // Followed, it serves.
            #expect(try Curl.writeOut("%{http_code}", ["-L", base + "/api/status"]) == "200")
            // A name the server does not answer to is refused, not redirected (DNS rebinding).
            #expect(try Curl.writeOut("%{http_code}", ["-H", "Host: evil.example", base + "/"]) == "421")
        }
    }

    /// Renewed on disk: a viewer connected before keeps receiving; new connections get the new
    /// certificate at SIGHUP, or at the next file check without one; a broken new pair is logged
    /// and the one in force kept.
    @Test func aRenewedCertificateIsServedWithoutDroppingViewers() async throws {
        let certificates = try TestCertificates()
        try certificates.make(commonName: "first")
        let server = try await FramecastProcess.serveHTTPS([
            "--pipeline", Self.pipeline, "--tls-cert", certificates.certificate, "--tls-key", certificates.key, "--tls-check-interval", "1",
        ])
        defer { server.terminate() }
        let base = "https://127.0.0.1:\(server.port)"
        #expect(try Self.subject(base) == "first")
        let viewer = try await HTTP2TestClient.connect(port: server.port)
        let stream = try await viewer.get("/stream?framing=length")
        try await eventually(10, "the viewer's first frames") { stream.parts.count >= 5 }

        try certificates.make(commonName: "second")
        kill(server.process.processIdentifier, SIGHUP)
        try await eventually(10, "the new certificate") { (try? Self.subject(base)) == "second" }
        let afterReload = stream.parts.count
        try await eventually(10, "the viewer to keep receiving") { stream.parts.count >= afterReload + 10 }
        #expect(!stream.ended)

        // Half written: kept, and said.
        try "not a certificate".write(toFile: certificates.certificate, atomically: true, encoding: .utf8)
        kill(server.process.processIdentifier, SIGHUP)
        try await eventually(10, "the refusal in the log") { server.standardErrorText.contains("TLS certificate not reloaded") }
        #expect(try Self.subject(base) == "second")

        // No signal: the file check finds the renewal.
        try certificates.make(commonName: "third")
        try await eventually(10, "the file check to load the renewal") { (try? Self.subject(base)) == "third" }
        #expect(!stream.ended)
        await viewer.close()
    }

    /// Connections over TLS and HTTP/2 coming and going (streams reset, connections dropped
    /// mid-frame, HTTP/1.1 clients cut off) leave no descriptor, thread or memory behind.
    @Test func hundredsOfTLSConnectionsComingAndGoingLeaveNothingBehind() async throws {
        let certificates = try TestCertificates()
        try certificates.make(commonName: "churn")
        let server = try await FramecastProcess.serveHTTPS([
            "--pipeline", TestPipelines.pattern(width: 160, height: 120, fps: "30/1"), "--always-on",
            "--tls-cert", certificates.certificate, "--tls-key", certificates.key,
        ])
        defer { server.terminate() }
        let port = server.port
        @Sendable func serverClients() throws -> Int? {
            let json = try Curl.run(["https://127.0.0.1:\(port)/api/status"]).output
            return (try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])?["serverClients"] as? Int
        }
        @Sendable func visit(_ index: Int) async throws {
            if index % 4 == 0 {
                // HTTP/1.1 over TLS, cut off after a moment (curl exits 28).
                _ = try Curl.run(["--http1.1", "-o", "/dev/null", "https://127.0.0.1:\(port)/stream"], timeout: 0.3)
                return
            }
            let client = try await HTTP2TestClient.connect(port: port)
            let first = try await client.get("/stream?framing=length")
            let second = try await client.get(index % 2 == 0 ? "/snapshot" : "/stream")
            try await eventually(10, "a frame") { !first.parts.isEmpty }
            if index % 3 == 0 { second.reset() }
            await client.close()
        }
        try await withDeadline(240, "TLS churn") {
            for index in 0..<20 { try await visit(index) }
            try await eventually(10, "warm-up clients gone") { try serverClients() == 0 }
            let before = ChurnAndShutdownTests.Footprint(pid: server.process.processIdentifier, resident: server.residentBytes)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        for index in stride(from: worker, to: 300, by: 4) { try await visit(index) }
                    }
                }
                try await group.waitForAll()
            }
            try await eventually(15, "every client gone") { try serverClients() == 0 }
            var after = ChurnAndShutdownTests.Footprint(pid: server.process.processIdentifier, resident: server.residentBytes)
            try await eventually(10, "descriptors back to \(before.descriptors)") {
                after = ChurnAndShutdownTests.Footprint(pid: server.process.processIdentifier, resident: server.residentBytes)
                return after.descriptors <= before.descriptors
            }
            #expect(after.threads <= before.threads + 2, "before: \(before); after: \(after)")
            #expect(after.resident <= before.resident + 24 << 20, "before: \(before); after: \(after)")
        }
    }

    /// Start-up refuses files that cannot serve, with the reason and status 2.
    @Test func unusableCertificateFilesAreAStartUpErrorWithTheReason() async throws {
        let certificates = try TestCertificates()
        try certificates.make(commonName: "one")
        let other = try TestCertificates()
        try other.make(commonName: "two")
        let garbage = certificates.directory.file("garbage.pem")
        try "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".write(toFile: garbage, atomically: true, encoding: .utf8)
        let empty = certificates.directory.file("empty.pem")
        FileManager.default.createFile(atPath: empty, contents: Data())
        let cases: [(cert: String, key: String, reason: String)] = [
            (certificates.directory.file("missing.pem"), certificates.key, "does not exist"),
            (certificates.certificate, certificates.directory.path, "cannot be read"),
            (garbage, certificates.key, "not a PEM certificate"),
            (empty, certificates.key, "is empty"),
            (certificates.certificate, certificates.certificate, "not a PEM private key"),
            (certificates.certificate, other.key, "do not belong together"),
        ]
        for (cert, key, reason) in cases {
            let result = try await FramecastProcess.runToExit(["--pipeline", Self.pipeline, "--port", "0", "--tls-cert", cert, "--tls-key", key])
            #expect(result.status == 2, "\(cert) \(key): \(result.error)")
            #expect(result.error.contains(reason), "\(result.error)")
        }
        for (arguments, reason) in [
            (["--tls-cert", certificates.certificate], "go together"), (["--redirect-http", "8081"], "needs --tls-cert"), (["--hsts", "60"], "needs --tls-cert"),
        ] {
            let result = try await FramecastProcess.runToExit(["--pipeline", Self.pipeline, "--port", "0"] + arguments)
            #expect(result.status == 2 && result.error.contains(reason), "\(arguments): \(result.error)")
        }
    }

    /// The certificate's subject common name a new connection sees.
    static func subject(_ base: String) throws -> String? {
        let verbose = try Curl.run(["-v", "-o", "/dev/null", base + "/healthz"]).error
        guard let line = verbose.split(separator: "\n").first(where: { $0.contains("subject:") }),
            let range = line.range(of: "CN=")
        else { return nil }
        return String(line[range.upperBound...].prefix { $0 != "," && $0 != ";" && $0 != " " })
    }
}

/// The raw HTTP/2 probe run by `TLSTests.probe`.
enum H2Probe {
    static let script = #"""
import socket, ssl, struct, sys, time

def frame(kind, flags, stream, payload=b''):
    return struct.pack('>I', len(payload))[1:] + bytes([kind, flags]) + struct.pack('>I', stream) + payload

def literal(name, value):
    # Literal header field without indexing, new name (RFC 7541, 6.2.2).
    return b'\x00' + bytes([len(name)]) + name + bytes([len(value)]) + value

def connect(port, window=None):
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(['h2'])
    sock = context.wrap_socket(socket.create_connection(('127.0.0.1', port)), server_hostname='localhost')
    assert sock.selected_alpn_protocol() == 'h2', sock.selected_alpn_protocol()
    settings = b'' if window is None else struct.pack('>HI', 4, window)
    sock.sendall(b'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n' + frame(4, 0, 0, settings))
    return sock

def request(path, authority=b'localhost', extra=b'', end_stream=True):
    block = b'\x82\x87' + literal(b':path', path) + literal(b':authority', authority) + extra
    return frame(1, 0x4 | (0x1 if end_stream else 0), 1, block)

def frames(sock, seconds):
    """Yields (type, flags, stream, payload) until the peer closes or the time is up; None at close."""
    sock.settimeout(0.2)
    deadline = time.time() + seconds
    buffer = b''
    while time.time() < deadline:
        try:
            data = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            continue
        except (ConnectionResetError, ssl.SSLError, OSError):
            yield None
            return
        if not data:
            yield None
            return
        buffer += data
        while len(buffer) >= 9:
            length = int.from_bytes(buffer[:3], 'big')
            if len(buffer) < 9 + length:
                break
            kind, flags, stream = buffer[3], buffer[4], int.from_bytes(buffer[5:9], 'big') & 0x7fffffff
            payload = buffer[9:9 + length]
            buffer = buffer[9 + length:]
            if kind == 4 and not flags & 1:
                sock.sendall(frame(4, 1, 0))  # ack settings
            yield (kind, flags, stream, payload)

mode, port, limit = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
start = time.time()
if mode == 'silent':
    # Preface and settings, then nothing (not even a PING's acknowledgement).
    sock = connect(port)
    for item in frames(sock, limit):
        if item is None:
            print('closed %.1f' % (time.time() - start)); sys.exit(0)
        if item[0] == 6 and not item[1] & 1:
            pass  # a PING: never answered
    print('open'); sys.exit(1)
if mode == 'unended':
    # A request whose headers never end the stream.
    sock = connect(port)
    sock.sendall(request(b'/api/status', end_stream=False))
    for item in frames(sock, limit):
        if item is None:
            print('closed %.1f' % (time.time() - start)); sys.exit(0)
        if item[0] == 3 and item[2] == 1:
            print('reset %.1f' % (time.time() - start)); sys.exit(0)
    print('open'); sys.exit(1)
if mode == 'trickle':
    # A stream whose reader grants one byte at a time after its first frame.
    sock = connect(port, window=1000)
    sock.sendall(request(b'/stream?framing=length'))
    last = time.time()
    for item in frames(sock, limit):
        if item is None:
            print('closed %.1f' % (time.time() - start)); sys.exit(0)
        if item[0] == 3 and item[2] == 1:
            print('reset %.1f' % (time.time() - start)); sys.exit(0)
        if time.time() - last > 0.3:
            last = time.time()
            sock.sendall(frame(8, 0, 1, struct.pack('>I', 1)))
    print('open'); sys.exit(1)
if mode == 'hosts':
    # :authority and Host naming different hosts.
    sock = connect(port)
    sock.sendall(request(b'/api/status', extra=literal(b'host', b'evil.example')))
    for item in frames(sock, limit):
        if item is None:
            break
        if item[0] == 1 and item[2] == 1:
            # :status from the static table: 0x88 is 200; a literal 400 comes as an indexed name 8.
            print('status', item[3][:8].hex()); sys.exit(0)
    print('none'); sys.exit(1)
"""#
}

/// Length-framed multipart parts out of a whole captured body.
enum MultipartBytes {
    struct Part {
        let jpeg: [UInt8]
        let timestamp: Double?
    }

    static func parts(_ bytes: [UInt8]) -> [Part] {
        let marker = Array("Content-Type: image/jpeg\r\n".utf8)
        let blank = Array("\r\n\r\n".utf8)
        var parts: [Part] = []
        var rest = bytes[...]
        while let start = rest.firstRange(of: marker)?.lowerBound, let end = rest[start...].firstRange(of: blank)?.upperBound {
            let headers = String(decoding: rest[start..<end], as: UTF8.self)
            var length = 0
            var timestamp: Double?
            for line in headers.split(separator: "\r\n") {
                let pieces = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard pieces.count == 2 else { continue }
                if pieces[0].lowercased() == "content-length" { length = Int(pieces[1]) ?? 0 }
                if pieces[0].lowercased() == "x-timestamp" { timestamp = Double(pieces[1]) }
            }
            guard rest.endIndex - end >= length else { break }
            parts.append(Part(jpeg: Array(rest[end..<(end + length)]), timestamp: timestamp))
            rest = rest[(end + length)...]
        }
        return parts
    }
}

import Foundation
@testable import FramecastServer
import Synchronization
import Testing

/// HTTP Basic authentication under attack: unknown users cost a bcrypt check like wrong passwords,
/// verified headers skip bcrypt, a full bcrypt worker answers 503 at once, an address with too many
/// failures gets 429 until its window passes, and CORS allows credentials for the one origin.
/// Real servers on real sockets; bcrypt runs are counted by `AccessControl`.
@Suite(.serialized) struct AuthHardeningTests {
    static let pipeline = TestPipelines.pattern(width: 160, height: 120)

    /// An htpasswd file made by Apache's tool, one entry per user at the given cost; removed by
    /// the caller.
    static func htpasswdFile(_ users: [(user: String, password: String, cost: Int)]) async throws -> URL {
        var lines = ""
        for entry in users {
            let made = try await InteropTests.run("htpasswd", ["-nbB", "-C", String(entry.cost), entry.user, entry.password])
            try #require(made.status == 0, "\(made.output)")
            lines += made.output.trimmingCharacters(in: .whitespacesAndNewlines) + "\n"
        }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("framecast-htpasswd-\(UUID().uuidString)")
        try lines.write(to: file, atomically: true, encoding: .utf8)
        return file
    }

    /// Status and `Retry-After` of a GET of `/api/status` with `authorization`.
    static func attempt(_ server: TestServer, _ authorization: String?, path: String = "/api/status") async throws -> (status: Int, retryAfter: Int?) {
        var headers = ["User-Agent": "framecast-tests"]
        headers["Authorization"] = authorization
        let (head, _) = try await server.get(path, headers: headers)
        return (head.status, head.header("retry-after").flatMap { Int($0) })
    }

    static func basic(_ user: String, _ password: String) -> String { AccessControlTests.basic(user, password) }

    @Test func anUnknownUserRunsBcryptLikeAWrongPassword() async throws {
        let file = try await Self.htpasswdFile([("viewer", "camera-pass", 8), ("guest", "guest-pass", 5)])
        defer { try? FileManager.default.removeItem(at: file) }
        let access = try AccessControl.htpasswd(path: file.path, limits: AuthLimits(failuresAllowed: 100))
        #expect(access.unknownUserCost == 8, "the stand-in hash has the file's highest cost")
        try await TestServer.run(pipeline: Self.pipeline, configure: { $0.access = access }) { server async throws in
            var unknown: [Duration] = []
            var wrong: [Duration] = []
            for attempt in 0..<3 {
                let before = access.bcryptChecks
                var started = ContinuousClock.now
                #expect(try await Self.attempt(server, Self.basic("nobody-\(attempt)", "camera-pass")).status == 401)
                unknown.append(ContinuousClock.now - started)
                #expect(access.bcryptChecks == before + 1, "an unknown user was answered without a bcrypt check")
                started = ContinuousClock.now
                #expect(try await Self.attempt(server, Self.basic("viewer", "wrong-\(attempt)")).status == 401)
                wrong.append(ContinuousClock.now - started)
                #expect(access.bcryptChecks == before + 2)
            }
            let fastestUnknown = try #require(unknown.min())
            let fastestWrong = try #require(wrong.min())
            #expect(fastestUnknown * 3 >= fastestWrong, "unknown user \(fastestUnknown), wrong password \(fastestWrong)")
        }
    }

    @Test func aVerifiedHeaderSkipsBcryptUntilItChanges() async throws {
        let file = try await Self.htpasswdFile([("viewer", "camera-pass", 8)])
        defer { try? FileManager.default.removeItem(at: file) }
        let access = try AccessControl.htpasswd(path: file.path, limits: .standard)
        try await TestServer.run(pipeline: Self.pipeline, configure: { $0.access = access }) { server async throws in
            let right = Self.basic("viewer", "camera-pass")
            #expect(try await Self.attempt(server, right).status == 200)
            #expect(access.bcryptChecks == 1)
            for _ in 0..<3 {
                #expect(try await Self.attempt(server, right).status == 200)
            }
            #expect(access.bcryptChecks == 1, "a remembered header ran bcrypt again")
            #expect(try await Self.attempt(server, Self.basic("viewer", "camera-pasz")).status == 401)
            #expect(access.bcryptChecks == 2, "a different password must be checked")
            #expect(try await Self.attempt(server, Self.basic("viewer", "camera-pasz")).status == 401)
            #expect(access.bcryptChecks == 3, "a failure must not be remembered")
            // The key is the whole header: another spelling of the same credentials is checked once.
            let lowercase = "basic " + right.dropFirst(6)
            #expect(try await Self.attempt(server, lowercase).status == 200)
            #expect(try await Self.attempt(server, lowercase).status == 200)
            #expect(access.bcryptChecks == 4)
            #expect(try await Self.attempt(server, right).status == 200)
            #expect(access.bcryptChecks == 4)
        }
    }

    @Test func aFullBcryptWorkerAnswers503AtOnce() async throws {
        let file = try await Self.htpasswdFile([("viewer", "camera-pass", 11)])
        defer { try? FileManager.default.removeItem(at: file) }
        let access = try AccessControl.htpasswd(path: file.path, limits: AuthLimits(pendingChecks: 1, failuresAllowed: 100))
        try await TestServer.run(pipeline: Self.pipeline, configure: { $0.access = access }) { server async throws in
            let answers = try await withThrowingTaskGroup(of: (status: Int, retryAfter: Int?).self) { group in
                for attempt in 0..<4 {
                    group.addTask { try await Self.attempt(server, Self.basic("viewer", "wrong-\(attempt)")) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            let refused = answers.filter { $0.status == 503 }
            #expect(!refused.isEmpty, "four checks at once with room for one: \(answers)")
            #expect(refused.allSatisfy { $0.retryAfter == 1 })
            #expect(answers.allSatisfy { $0.status == 401 || $0.status == 503 }, "\(answers)")
            #expect(access.bcryptChecks == answers.count - refused.count, "a refused check ran bcrypt")
        }
    }

    /// Checks of the same header admitted together share one run; past the capacity, nil at once.
    @Test func theBcryptWorkerSharesIdenticalChecksAndRefusesPastItsCapacity() async throws {
        let worker = AuthBcryptWorker(capacity: 2)
        let keys = AuthCredentialCache(lifetime: .seconds(1), capacity: 1)
        let release = DispatchSemaphore(value: 0)
        let runs = Atomic(0)
        let check: @Sendable () -> Bool = {
            runs.add(1, ordering: .relaxed)
            release.wait()
            return true
        }
        try await withThrowingTaskGroup(of: Bool?.self) { group in
            for _ in 0..<3 {
                group.addTask { await worker.verify(keys.key("a"), check) }
            }
            group.addTask { await worker.verify(keys.key("b"), check) }
            try await eventually(10, "four checks admitted") { worker.waiting == 4 }
            #expect(worker.admitted == 2)
            #expect(await worker.verify(keys.key("c"), check) == nil, "a third distinct check fits in no slot")
            release.signal()
            release.signal()
            var results: [Bool?] = []
            for try await result in group { results.append(result) }
            #expect(results == [true, true, true, true])
        }
        #expect(runs.load(ordering: .relaxed) == 2, "three identical checks ran more than once")
        #expect(worker.admitted == 0)
    }

    @Test func tooManyFailuresFromOneAddressAnswer429UntilTheWindowPasses() async throws {
        let file = try await Self.htpasswdFile([("viewer", "camera-pass", 5)])
        defer { try? FileManager.default.removeItem(at: file) }
        let access = try AccessControl.htpasswd(path: file.path, limits: AuthLimits(failureWindow: .seconds(2)))
        try await TestServer.run(pipeline: Self.pipeline, configure: { $0.access = access }) { server async throws in
            for attempt in 1...6 {
                #expect(try await Self.attempt(server, Self.basic("viewer", "guess-\(attempt)")).status == 401, "attempt \(attempt)")
            }
            #expect(access.bcryptChecks == 6)
            let refused = try await Self.attempt(server, Self.basic("viewer", "guess-7"))
            #expect(refused.status == 429)
            #expect((1...2).contains(refused.retryAfter ?? 0), "Retry-After \(String(describing: refused.retryAfter))")
            // The right password is refused too while the window lasts (else the 429 would tell).
            #expect(try await Self.attempt(server, Self.basic("viewer", "camera-pass")).status == 429)
            #expect(access.bcryptChecks == 6, "a refused attempt ran bcrypt")
            #expect(try await Self.attempt(server, nil, path: "/healthz").status == 200)
            try await eventually(10, "the failure window to pass") {
                try await Self.attempt(server, Self.basic("viewer", "camera-pass")).status != 429
            }
            #expect(try await Self.attempt(server, Self.basic("viewer", "camera-pass")).status == 200)
            #expect(access.bcryptChecks == 7)
        }
    }

    @Test func thePlainAuthOptionIsThrottledAndAFreshSuccessForgivesEarlierFailures() async throws {
        let access = try AccessControl.single("admin:s3cret", limits: AuthLimits(failureWindow: .seconds(2)))
        try await TestServer.run(pipeline: Self.pipeline, configure: { $0.access = access }) { server async throws in
            for attempt in 1...5 {
                #expect(try await Self.attempt(server, Self.basic("admin", "guess-\(attempt)")).status == 401)
            }
            // A fresh success forgives the address's failures: five more are allowed again.
            #expect(try await Self.attempt(server, Self.basic("admin", "s3cret")).status == 200)
            for attempt in 1...5 {
                #expect(try await Self.attempt(server, Self.basic("admin", "again-\(attempt)")).status == 401)
            }
            // The now remembered header passes but forgives nothing: the sixth failure crosses the limit.
            #expect(try await Self.attempt(server, Self.basic("admin", "s3cret")).status == 200)
            #expect(try await Self.attempt(server, Self.basic("admin", "guess-6")).status == 401)
            let refused = try await Self.attempt(server, Self.basic("admin", "guess-7"))
            #expect(refused.status == 429)
            #expect(refused.retryAfter != nil)
            // A viewer behind the same address (a proxy) as the guesser keeps watching.
            #expect(try await Self.attempt(server, Self.basic("admin", "s3cret")).status == 200)
            #expect(try await Self.attempt(server, Self.basic("admin", "guess-8")).status == 429)
            try await eventually(10, "the failure window to pass") {
                try await Self.attempt(server, Self.basic("admin", "guess-9")).status == 401
            }
            #expect(access.bcryptChecks == 0, "a plain password never runs bcrypt")
        }
    }

    /// WebSocket upgrades are throttled by the client's address like every other request (their
    /// context knows the connection); a refused upgrade is answered 400 whatever the reason.
    @Test func webSocketUpgradesAreThrottledByTheClientsAddress() async throws {
        let file = try await Self.htpasswdFile([("viewer", "camera-pass", 5)])
        defer { try? FileManager.default.removeItem(at: file) }
        let access = try AccessControl.htpasswd(path: file.path, limits: .standard)
        try await TestServer.run(pipeline: Self.pipeline, configure: { $0.access = access }) { server async throws in
            func upgrade(_ password: String) async throws -> Int {
                var headers = WebSocketTestClient.upgradeHeaders
                headers["Authorization"] = Self.basic("viewer", password)
                return try await withHTTPRequest(port: server.port, path: "/ws", headers: headers) { $0.head.status }
            }
            for attempt in 1...7 {
                #expect(try await upgrade("guess-\(attempt)") == 400)
            }
            #expect(access.bcryptChecks == 6, "the seventh upgrade ran bcrypt")
            // The same client over plain HTTP is in the same bucket.
            #expect(try await Self.attempt(server, Self.basic("viewer", "camera-pass")).status == 429)
            #expect(access.bcryptChecks == 6)
        }
    }

    @Test func corsAllowsCredentialsForTheOneOriginWhenAuthIsOn() async throws {
        let origin = "http://example.test"
        let access = try AccessControl.single("admin:s3cret")
        try await TestServer.run(pipeline: Self.pipeline, configure: { $0.allowOrigin = origin; $0.access = access }) { server async throws in
            let headers = ["Origin": origin, "Authorization": Self.basic("admin", "s3cret"), "User-Agent": "framecast-tests"]
            let (head, _) = try await server.get("/api/status", headers: headers)
            #expect(head.status == 200)
            #expect(head.header("access-control-allow-origin") == origin)
            #expect(head.header("access-control-allow-credentials") == "true")
            let (preflight, _) = try await withHTTPRequest(
                port: server.port, path: "/api/status", method: "OPTIONS",
                headers: ["Origin": origin, "Access-Control-Request-Method": "GET", "Access-Control-Request-Headers": "authorization", "Connection": "close"]
            ) { ($0.head, ()) }
            #expect(preflight.status < 300)
            #expect(preflight.header("access-control-allow-origin") == origin)
            #expect(preflight.header("access-control-allow-credentials") == "true")
        }
        try await TestServer.run(pipeline: Self.pipeline, configure: { $0.allowOrigin = origin }) { server async throws in
            let (head, _) = try await server.get("/api/status", headers: ["Origin": origin, "User-Agent": "framecast-tests"])
            #expect(head.header("access-control-allow-origin") == origin)
            #expect(head.header("access-control-allow-credentials") == nil, "no credentials to allow without --auth")
        }
    }

    @Test func basicCredentialsAreReadByteForByte() {
        typealias Middleware = BasicAuthMiddleware<FramecastRequestContext>
        func header(_ bytes: [UInt8]) -> String { "Basic " + Data(bytes).base64EncodedString() }
        #expect(Middleware.credentials(header(Array("viewer:pa:ss".utf8)))! == ("viewer", "pa:ss"))
        #expect(Middleware.credentials("bAsIc   " + Data("a:b".utf8).base64EncodedString())! == ("a", "b"))
        // A combining mark after the colon does not hide it.
        #expect(Middleware.credentials(header(Array("viewer:\u{301}x".utf8)))! == ("viewer", "\u{301}x"))
        #expect(Middleware.credentials(header(Array("viewer:secret\0more".utf8))) == nil, "bcrypt would stop at the NUL")
        #expect(Middleware.credentials(header([0x76, 0x3A, 0xFF])) == nil, "not UTF-8")
        #expect(Middleware.credentials(header(Array("no-colon".utf8))) == nil)
        #expect(Middleware.credentials("Bearer abc") == nil)
        #expect(Middleware.credentials("Basic " + String(repeating: "A", count: 5000)) == nil)
    }

    // MARK: The cache and the throttle as values, on an injected clock

    @Test func theCacheForgetsAfterItsLifetimeAndStaysBounded() {
        let start = ContinuousClock.now
        var cache = AuthCredentialCache(lifetime: .seconds(300), capacity: 3)
        let keys = (0..<5).map { cache.key("Basic header-\($0)") }
        #expect(cache.key("Basic header-0") == keys[0])
        #expect(Set(keys).count == 5)
        for (offset, key) in keys.prefix(3).enumerated() { cache.insert(key, now: start + .seconds(offset)) }
        #expect(cache.contains(keys[0], now: start + .seconds(299)))
        #expect(!cache.contains(keys[0], now: start + .seconds(300)), "remembered past its lifetime")
        // Full: the entry closest to expiry goes.
        cache.insert(keys[3], now: start + .seconds(10))
        #expect(cache.count == 3)
        #expect(!cache.contains(keys[0], now: start + .seconds(10)))
        #expect(cache.contains(keys[1], now: start + .seconds(10)) && cache.contains(keys[3], now: start + .seconds(10)))
        // Expired entries go first, all of them.
        cache.insert(keys[4], now: start + .seconds(305))
        #expect(cache.count == 2)
    }

    @Test func theThrottleCountsFailuresPerAddressWithinItsWindow() {
        let start = ContinuousClock.now
        var throttle = AuthFailureThrottle(failuresAllowed: 5, window: .seconds(10), trackedAddresses: 8)
        for second in 0..<5 { #expect(throttle.recordFailure("a", now: start + .seconds(second)) == nil) }
        #expect(throttle.refusal("a", now: start + .seconds(5)) == nil, "five failures are allowed")
        #expect(throttle.recordFailure("a", now: start + .seconds(6)) == .seconds(4), "the sixth starts the refusal")
        #expect(throttle.refusal("a", now: start + .seconds(7)) == .seconds(3))
        #expect(throttle.refusal("b", now: start + .seconds(7)) == nil, "another address is not refused")
        #expect(throttle.refusal("a", now: start + .seconds(10)) == nil, "refused past the window")
        #expect(throttle.recordFailure("a", now: start + .seconds(10)) == nil, "a new window starts")
        throttle.forgive("a")
        #expect(throttle.count == 0)
        // Bounded: a ninth address sheds a quarter of eight, the oldest first.
        for index in 0..<8 { _ = throttle.recordFailure("address-\(index)", now: start + .seconds(20 + index)) }
        #expect(throttle.count == 8)
        _ = throttle.recordFailure("address-8", now: start + .seconds(28))
        #expect(throttle.count == 7)
        for _ in 0..<5 { _ = throttle.recordFailure("address-0", now: start + .seconds(28)) }
        #expect(throttle.refusal("address-0", now: start + .seconds(28)) == nil, "the oldest address was forgotten")
    }

    // MARK: The htpasswd file

    static let hash = "$2y$05$" + String(repeating: "a", count: 53)

    @Test func htpasswdLinesAreReadWhateverTheLineEndings() throws {
        let text = "\u{FEFF}# viewers\r\nviewer:\(Self.hash)\r\n\r\n  guest:\(Self.hash.replacingOccurrences(of: "$05$", with: "$09$")) \t\nkey:\("$2b$04$" + String(repeating: "/", count: 53))"
        let entries = try HtpasswdFile.parse(text: text, path: "users")
        #expect(entries.map(\.user) == ["viewer", "guest", "key"])
        #expect(entries.map(\.cost) == [5, 9, 4])
        #expect(entries[0].hash == "$2b$05$" + String(repeating: "a", count: 53), "$2y$ is read as $2b$")
    }

    @Test(arguments: [
        ("viewer:$apr1$abc$def", "bcrypt"),
        ("viewer", "USER:HASH"),
        (":\(hash)", "USER:HASH"),
        ("viewer:\(hash)x", "bcrypt"),
        ("viewer:\(hash.replacingOccurrences(of: "$05$", with: "$31$"))", "cost 31"),
        ("viewer:\(hash.replacingOccurrences(of: "$05$", with: "$03$"))", "cost 3"),
        ("viewer:\(hash)\nviewer:\(hash)", "already on line 2"),
        ("viewer:$2x$05$" + String(repeating: "a", count: 53), "bcrypt"),
        ("viewer:$2y$05$" + String(repeating: "a", count: 52) + "!", "bcrypt"),
    ])
    func brokenHtpasswdLinesSayWhatIsWrong(line: String, problem: String) {
        let error = #expect(throws: HtpasswdFile.Failure.self) { try HtpasswdFile.parse(text: "# users\n" + line, path: "users") }
        #expect(error?.description.contains(problem) == true, "\(String(describing: error))")
        #expect(error?.description.hasPrefix("users, line ") == true)
    }

    @Test func anHtpasswdFileWithoutUsersIsRefused() {
        for text in ["", "\n\n", "# nobody\n", "\u{FEFF}"] {
            #expect(throws: HtpasswdFile.Failure.empty(path: "users")) { try HtpasswdFile.parse(text: text, path: "users") }
        }
    }

    /// Any bytes: an answer (entries or a Failure), never a crash, and time linear in the size.
    @Test func theHtpasswdParserTakesAnyBytes() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("viewer:$2yb05a/.\n\r #\u{FEFF}\u{301}é\0".unicodeScalars.map(String.init)) + [Self.hash, "\n", ":"]
        for _ in 0..<3000 {
            let bytes = (0..<Int.random(in: 0...40, using: &generator)).map { _ in alphabet.randomElement(using: &generator)! }.joined()
            _ = try? HtpasswdFile.parse(text: bytes, path: "fuzz")
            let raw = (0..<Int.random(in: 0...120, using: &generator)).map { _ in UInt8.random(in: 0...255, using: &generator) }
            _ = try? HtpasswdFile.parse(text: String(decoding: raw, as: UTF8.self), path: "fuzz")
        }
        let started = ContinuousClock.now
        #expect(throws: HtpasswdFile.Failure.self) { try HtpasswdFile.parse(text: String(repeating: "a", count: 1 << 18), path: "big") }
        #expect(throws: HtpasswdFile.Failure.self) { try HtpasswdFile.parse(text: String(repeating: ":", count: 1 << 18), path: "big") }
        #expect(throws: HtpasswdFile.Failure.self) { try HtpasswdFile.parse(text: String(repeating: "\n", count: 1 << 18), path: "big") }
        #expect(throws: HtpasswdFile.Failure.self) { try HtpasswdFile.parse(text: String(repeating: "#\r\n", count: 1 << 18), path: "big") }
        var many = ""
        for index in 0..<5_000 { many += "user\(index):\(Self.hash)\n" }
        #expect(try HtpasswdFile.parse(text: many, path: "many").count == 5_000)
        #expect(ContinuousClock.now - started < .seconds(20), "parsing took \(ContinuousClock.now - started)")
    }
}

import Foundation
import Testing

/// The tree a site deploys (DEPLOYMENT.md): an origin Framecast, two relay edges
/// (`--relay-all`), a real load balancer with the repository's configuration, and viewers that
/// reconnect as browsers do. Every part a real process on loopback; small frames (160x120 at
/// 10 fps) so that it fits two cores.
@Suite(.serialized)
struct RelayTreeTests {
    static let fps = 10
    static let pattern = TestPipelines.pattern(width: 160, height: 120, fps: "\(fps)/1")
    static let path = "/stream/cam?framing=length"

    /// 100 viewers through nginx (packaging/nginx/framecast-edges.conf): every viewer at the
    /// stream's rate, the origin serving one connection per edge, viewers spread over both edges,
    /// the origin's frames byte for byte with its X-Timestamp; an edge killed, its viewers on the
    /// other within 3 s; the origin restarted, NO SIGNAL then frames within 2 s of its return;
    /// viewers gone, no connection to the origin after the edge's idle timeout.
    @Test func hundredViewersThroughNginxOverTwoEdges() async throws {
        try #require(LoadBalancer.isInstalled(.nginx), "nginx is not installed: run scripts/install-deps.sh")
        let tree = try await RelayTree.start()
        defer { tree.stop() }
        let balancer = try LoadBalancer(.nginx, edgePorts: tree.edges.map(\.port))
        try await finally({ await balancer.stop() }) {
            try await balancer.run()
            let viewers = (0..<100).map { _ in Viewer() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for viewer in viewers { group.addTask { await viewer.watch(port: balancer.port, path: Self.path) } }
                defer { group.cancelAll() }
                try await Self.everyViewerAtTheStreamsRate(viewers)
                try await Self.oneOriginConnectionPerEdgeAndViewersSpread(tree, viewers: viewers.count)
                try await Self.framesAreTheOriginsByteForByte(tree, viewers)
                try await Self.viewersOfAKilledEdgeMoveToTheOther(tree, viewers, balancer: balancer)
                try await Self.anOriginRestartShowsNoSignalThenFrames(tree, viewers)
                group.cancelAll()
                for try await _ in group {}
            }
            // Nobody watches: the surviving edge lets go of the origin after its idle timeout (1 s).
            let gone = Date()
            try await eventually(5, "the edge to let go of the origin") { try await tree.originClients() == 0 }
            let relay = try await tree.relayStatus(tree.edges[1])
            #expect(relay["state"] as? String == "idle", "\(relay)")
            print("RelayTree nginx: the origin had no client \(String(format: "%.2f", Date().timeIntervalSince(gone))) s after the last viewer left")
        }
    }

    /// The same tree behind HAProxy (packaging/haproxy/framecast-edges.cfg, `balance leastconn`):
    /// viewers at the stream's rate, spread over both edges over one origin connection per edge,
    /// and an edge killed, its viewers on the other within 3 s.
    @Test func viewersThroughHAProxyOverTwoEdges() async throws {
        try #require(LoadBalancer.isInstalled(.haproxy), "haproxy is not installed: run scripts/install-deps.sh")
        let tree = try await RelayTree.start()
        defer { tree.stop() }
        let balancer = try LoadBalancer(.haproxy, edgePorts: tree.edges.map(\.port))
        try await finally({ await balancer.stop() }) {
            try await balancer.run()
            let viewers = (0..<40).map { _ in Viewer() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for viewer in viewers { group.addTask { await viewer.watch(port: balancer.port, path: Self.path) } }
                defer { group.cancelAll() }
                try await Self.everyViewerAtTheStreamsRate(viewers)
                try await Self.oneOriginConnectionPerEdgeAndViewersSpread(tree, viewers: viewers.count)
                try await Self.viewersOfAKilledEdgeMoveToTheOther(tree, viewers, balancer: balancer)
                group.cancelAll()
                for try await _ in group {}
            }
        }
    }

    /// DEPLOYMENT.md shows the configurations this suite runs, verbatim.
    @Test func theDeploymentGuideQuotesTheConfigurationsVerbatim() throws {
        let guide = try String(contentsOf: LoadBalancer.repository.appendingPathComponent("DEPLOYMENT.md"), encoding: .utf8)
        for kind in [LoadBalancer.Kind.nginx, .haproxy] {
            let file = try String(contentsOf: LoadBalancer.repository.appendingPathComponent(kind.configuration), encoding: .utf8)
            #expect(guide.contains("\n" + file + "```"), "DEPLOYMENT.md does not quote \(kind.configuration) as it is")
        }
    }

    // MARK: The steps

    /// Every viewer gets frames, then at least 80% of the source's rate over 3 s.
    static func everyViewerAtTheStreamsRate(_ viewers: [Viewer]) async throws {
        try await eventually(20, "every viewer's first frame") {
            viewers.allSatisfy { $0.frames(after: 0) > 0 }
        }
        let start = Date().timeIntervalSince1970
        let window = 3.0
        let wanted = Int(Double(fps) * window * 0.8)
        let kept = await holds(within: window) { viewers.allSatisfy { $0.frames(after: start) >= wanted } }
        let counts = viewers.map { $0.frames(after: start) }.sorted()
        let elapsed = Date().timeIntervalSince1970 - start
        print("RelayTree: frames per viewer in \(String(format: "%.2f", elapsed)) s: min \(counts.first!), median \(counts[counts.count / 2]), max \(counts.last!)")
        try #require(kept, "every viewer \(wanted) frames (80% of \(fps) fps) within \(window) s: the slowest had \(counts.first!)")
    }

    /// The origin serves exactly one connection per edge; the balancer spread the viewers.
    static func oneOriginConnectionPerEdgeAndViewersSpread(_ tree: RelayTree, viewers: Int) async throws {
        try await eventually(5, "the origin's two clients") { try await tree.originClients() == 2 }
        var counts: [Int] = []
        for edge in tree.edges {
            let relay = try await tree.relayStatus(edge)
            #expect(relay["connections"] as? Int == 1, "one connection to the origin since the edge started: \(relay)")
            #expect(relay["state"] as? String == "connected", "\(relay)")
            counts.append(try await tree.streamClients(edge))
        }
        print("RelayTree: viewers per edge \(counts)")
        #expect(counts.reduce(0, +) == viewers, "every viewer on an edge: \(counts)")
        let low = viewers * 3 / 10, high = viewers * 7 / 10
        for count in counts { #expect((low...high).contains(count), "viewers spread over both edges: \(counts)") }
    }

    /// What viewers receive is what the origin sent, byte for byte, under its X-Timestamp.
    static func framesAreTheOriginsByteForByte(_ tree: RelayTree, _ viewers: [Viewer]) async throws {
        // The origin's own frames by capture time, read directly beside the edges.
        let reference = try await withDeadline(10, "20 frames of the origin") {
            try await tree.origin.server.stream(path: "/stream/cam", query: "?framing=length") { reader, parts in
                var frames: [String: Int] = [:]
                while frames.count < 20, let part = try await parts.nextFrame(&reader) {
                    frames[try #require(part.headers["x-timestamp"])] = Viewer.digest(part.body)
                }
                return frames
            }
        }
        let latest = reference.keys.compactMap(Double.init).max()!
        try await eventually(5, "every viewer past the origin's last reference frame") {
            viewers.allSatisfy { $0.latestTimestamp() >= latest }
        }
        var matched: [Int] = [], mismatched = 0, withoutTimestamp = 0
        for viewer in viewers {
            let received = viewer.framesByTimestamp()
            withoutTimestamp += viewer.realFramesWithoutTimestamp()
            var count = 0
            for (timestamp, digest) in reference {
                guard let theirs = received[timestamp] else { continue }
                if theirs == digest { count += 1 } else { mismatched += 1 }
            }
            matched.append(count)
        }
        print("RelayTree: frames matched by X-Timestamp per viewer (of \(reference.count)): min \(matched.min()!), max \(matched.max()!)")
        #expect(mismatched == 0, "\(mismatched) frames differ from the origin's under the same X-Timestamp")
        #expect(withoutTimestamp == 0, "\(withoutTimestamp) frames came without the origin's X-Timestamp")
        #expect(matched.allSatisfy { $0 >= reference.count * 8 / 10 }, "each viewer had most of the origin's frames: \(matched.sorted())")
    }

    /// SIGKILL one edge: its viewers, reconnecting 100 ms after the break, get frames from the
    /// other edge within 3 s.
    static func viewersOfAKilledEdgeMoveToTheOther(_ tree: RelayTree, _ viewers: [Viewer], balancer: LoadBalancer) async throws {
        let connects = viewers.map { $0.connects }
        let killed = Date().timeIntervalSince1970
        tree.edges[0].killNow()
        let served = await holds(within: 3) { viewers.allSatisfy { $0.firstFrame(after: killed) != nil } }
        let moved = viewers.indices.filter { viewers[$0].connects > connects[$0] }
        let delays = moved.compactMap { viewers[$0].firstFrame(after: killed).map { $0 - killed } }
        print("RelayTree \(balancer.kind): \(moved.count) viewers reconnected after the edge's SIGKILL; first frame after \(String(format: "%.2f", delays.max() ?? .nan)) s at worst")
        let unserved = viewers.filter { $0.firstFrame(after: killed) == nil }
        try #require(served, "\(unserved.count) viewers without a frame 3 s after the edge died; their last errors: \(Set(unserved.compactMap(\.lastError)).prefix(3))")
        #expect(moved.count >= viewers.count * 3 / 10, "the killed edge's viewers reconnected: \(moved.count)")
        try await eventually(3, "every viewer on the surviving edge") { try await tree.streamClients(tree.edges[1]) == viewers.count }
        try await eventually(3, "the origin's one client") { try await tree.originClients() == 1 }
    }

    /// SIGTERM the origin: the edge's viewers get NO SIGNAL (length framing, `X-Placeholder:
    /// no-signal`); started again on its port, its frames reach every viewer within 2 s.
    static func anOriginRestartShowsNoSignalThenFrames(_ tree: RelayTree, _ viewers: [Viewer]) async throws {
        tree.origin.terminate()
        try await tree.origin.waitForExit(timeout: 10)
        let stopped = Date().timeIntervalSince1970
        try await eventually(5, "NO SIGNAL for every viewer") {
            viewers.allSatisfy { $0.placeholder(after: stopped) != nil }
        }
        for viewer in viewers {
            let part = try #require(viewer.placeholder(after: stopped))
            #expect(part.headers["x-placeholder"] == "no-signal" && part.contentLength == part.body.count, "\(part.headers)")
        }
        try await tree.restartOrigin()
        let back = Date().timeIntervalSince1970
        let served = await holds(within: 2) { viewers.allSatisfy { $0.firstFrame(after: stopped) != nil } }
        let delays = viewers.compactMap { $0.firstFrame(after: stopped).map { $0 - back } }
        print("RelayTree: frames again \(String(format: "%.2f", delays.max() ?? .nan)) s after the origin answered, at worst")
        #expect(served, "every viewer's frames within 2 s of the origin's return: \(viewers.filter { $0.firstFrame(after: stopped) == nil }.count) without")
    }
}

/// Polls `condition` every 50 ms for up to `seconds`; whether it held (the caller reports what
/// it measured either way).
func holds(within seconds: Double, _ condition: () async throws -> Bool) async -> Bool {
    (try? await eventually(seconds, "") { try await condition() }) != nil
}

private func finally<T>(_ cleanup: () async -> Void, _ body: () async throws -> T) async throws -> T {
    let result: Result<T, any Error>
    do { result = .success(try await body()) } catch { result = .failure(error) }
    await cleanup()
    return try result.get()
}

/// An origin Framecast serving `cam` and two edges relaying it (`--relay-all`, idle timeout 1 s).
final class RelayTree: @unchecked Sendable {
    let originPort: Int
    private(set) var origin: FramecastProcess
    let edges: [Edge]

    /// An edge as a child process (SIGKILL is part of the test).
    final class Edge: @unchecked Sendable {
        let process: FramecastProcess
        var port: Int { process.port }
        var server: TestServer { process.server }
        init(_ process: FramecastProcess) { self.process = process }
        func killNow() { kill(process.process.processIdentifier, SIGKILL) }
    }

    static let originArguments = ["--stream", "cam=\(RelayTreeTests.pattern)", "--max-clients", "1000", "--log-level", "warning"]

    private init(originPort: Int, origin: FramecastProcess, edges: [Edge]) {
        self.originPort = originPort
        self.origin = origin
        self.edges = edges
    }

    static func start() async throws -> RelayTree {
        let port = try FramecastProcess.freePort()
        let origin = try await FramecastProcess.serve(port: port, originArguments)
        var edges: [Edge] = []
        for _ in 0..<2 {
            edges.append(Edge(try await FramecastProcess.serve([
                "--relay-all", "http://127.0.0.1:\(port)", "--idle-timeout", "1", "--max-clients", "1000", "--log-level", "warning",
            ])))
        }
        return RelayTree(originPort: port, origin: origin, edges: edges)
    }

    func restartOrigin() async throws {
        origin = try await FramecastProcess.serve(port: originPort, Self.originArguments)
    }

    /// The `cam` stream's entry in a server's /api/streams.
    static func cam(_ server: TestServer) async throws -> [String: Any] {
        let (_, body) = try await server.get("/api/streams")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        let streams = try #require(json["streams"] as? [[String: Any]])
        return try #require(streams.first { $0["name"] as? String == "cam" }, "no stream cam in \(streams)")
    }

    func originClients() async throws -> Int { try #require(try await Self.cam(origin.server)["clients"] as? Int) }
    func streamClients(_ edge: Edge) async throws -> Int { try #require(try await Self.cam(edge.server)["clients"] as? Int) }
    func relayStatus(_ edge: Edge) async throws -> [String: Any] { try #require(try await Self.cam(edge.server)["relay"] as? [String: Any]) }

    func stop() {
        for process in [origin] + edges.map(\.process) { process.terminate() }
    }
}

/// A viewer as a browser is one: it reads the stream, and when the connection breaks it opens
/// it again after 100 ms. Records every part with its arrival time.
final class Viewer: @unchecked Sendable {
    struct Received {
        var at: Double
        var timestamp: String?
        var digest: Int
        var part: ReceivedPart?  // kept for placeholders only
        var isPlaceholder: Bool { part != nil }
    }

    private let lock = NSLock()
    private var received: [Received] = []
    private var connectCount = 0
    private var error: String?

    static func digest(_ bytes: [UInt8]) -> Int {
        var hasher = Hasher()
        bytes.withUnsafeBytes { hasher.combine(bytes: $0) }
        return hasher.finalize()
    }

    func watch(port: Int, path: String) async {
        while !Task.isCancelled {
            lock.withLock { connectCount += 1 }
            do {
                try await withHTTPRequest(port: port, path: path) { reader in
                    guard reader.head.status == 200 else { throw HTTPTestError.malformed("status \(reader.head.status)") }
                    var parts = MultipartStreamReader(boundary: "framecast")
                    try await parts.readOpening(&reader)
                    while !Task.isCancelled, let part = try await parts.next(&reader) { record(part) }
                }
            } catch {
                lock.withLock { self.error = "\(error)" }
            }
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func record(_ part: ReceivedPart) {
        let entry = Received(
            at: part.receivedAt, timestamp: part.headers["x-timestamp"], digest: part.isPlaceholder ? 0 : Self.digest(part.body),
            part: part.isPlaceholder ? part : nil)
        lock.withLock { received.append(entry) }
    }

    var connects: Int { lock.withLock { connectCount } }
    var lastError: String? { lock.withLock { error } }

    /// Real frames received after `time`.
    func frames(after time: Double) -> Int {
        lock.withLock { received.reversed().prefix { $0.at > time }.filter { !$0.isPlaceholder }.count }
    }

    /// When the first real frame after `time` arrived.
    func firstFrame(after time: Double) -> Double? {
        lock.withLock { received.first { $0.at > time && !$0.isPlaceholder }?.at }
    }

    func placeholder(after time: Double) -> ReceivedPart? {
        lock.withLock { received.first { $0.at > time && $0.isPlaceholder }?.part }
    }

    func latestTimestamp() -> Double {
        lock.withLock { received.last { !$0.isPlaceholder }?.timestamp.flatMap(Double.init) ?? 0 }
    }

    func framesByTimestamp() -> [String: Int] {
        lock.withLock {
            Dictionary(received.filter { !$0.isPlaceholder }.compactMap { item in item.timestamp.map { ($0, item.digest) } }) { first, _ in first }
        }
    }

    func realFramesWithoutTimestamp() -> Int {
        lock.withLock { received.filter { !$0.isPlaceholder && $0.timestamp == nil }.count }
    }
}

import CoreMetrics
import Logging
import NIOCore
import NIOPosix
import MediaPipeline
import Testing

@testable import FramecastServer

/// The WebSocket delivery below the socket: a `/ws` session's tiles on its event loop, its
/// mailbox of one frame per stream, and the client leases its wants hold.
///
/// A real event loop, not an embedded one: a lease starts the stream's pipeline, whose threads
/// reach the hub (and its loops) on their own. Its frames are all warm-up frames, never published,
/// so the frames a test sees are the ones it publishes.
struct WallSessionTests {
    static let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    static func catalog() throws -> StreamCatalog {
        var settings = StreamSettings()
        settings.warmupFrames = .max
        let fixed = settings
        return try StreamCatalog(
            ["a", "b"].map { StreamDefinition(name: $0, pipeline: TestPipelines.pattern(width: 64, height: 48)) },
            factory: StreamCatalog.Factory(
                makeSupervisor: { definition throws(PipelineError) in
                    try StreamSupervisor(
                        name: definition.name, pipeline: definition.pipeline, settings: fixed,
                        metrics: DeliveryFixtures.metrics(definition.name), logger: Logger(label: "test"))
                },
                makeRenditions: { stream, _ in
                    RenditionSet(source: stream, named: [:], limit: 0, metricsFactory: NOOPMetricsHandler.instance, logger: Logger(label: "test"))
                },
                namedRenditions: { _ in [:] }, logger: Logger(label: "test")))
    }

    /// The streams of `names` as the controller resolves them (unknown names are its business).
    static func targets(_ names: [String], in catalog: StreamCatalog) -> [StreamTarget] {
        names.compactMap { catalog.named($0) }.map { StreamTarget(supervisor: $0, lease: nil) }
    }

    /// Waits until everything the loop was asked to do before now is done.
    static func settle(_ loop: any EventLoop) async throws {
        try await loop.submit {}.get()
    }

    static func publish(_ sequence: UInt64, on stream: StreamSupervisor) {
        stream.hub.beginRun(1)
        stream.hub.publish(DeliveryFixtures.frame(sequence, stream: stream.name), run: 1)
    }

    @Test func aSessionGetsTheNewestFrameOfEachWantedStreamOnly() async throws {
        let catalog = try Self.catalog()
        let (a, b) = (try #require(catalog.named("a")), try #require(catalog.named("b")))
        let loop = Self.group.next()
        let session = WallSession(eventLoop: loop)
        defer { session.close() }

        session.want(Self.targets(["a"], in: catalog))
        try await Self.settle(loop)
        #expect(a.status().clients == 1)
        #expect(b.status().clients == 0)
        for sequence: UInt64 in 1...3 { Self.publish(sequence, on: a) }
        Self.publish(7, on: b)
        try await Self.settle(loop)
        // Three frames while nobody took any: only the newest waits; nothing of an unwanted stream.
        let pending = session.takePending()
        #expect(pending.map(\.frame.sequence) == [3])
        #expect(pending.map(\.stream.name) == ["a"])
        #expect(session.takePending().isEmpty)
    }

    @Test func aStreamJoiningGetsItsNewestFrameAtOnceAndALeavingOneNothingMore() async throws {
        let catalog = try Self.catalog()
        let (a, b) = (try #require(catalog.named("a")), try #require(catalog.named("b")))
        Self.publish(5, on: b)
        let loop = Self.group.next()
        let session = WallSession(eventLoop: loop)
        defer { session.close() }

        session.want(Self.targets(["a", "b"], in: catalog))
        try await Self.settle(loop)
        #expect(session.takePending().map(\.frame.sequence) == [5])
        session.want(Self.targets(["b"], in: catalog))
        try await Self.settle(loop)
        #expect(a.status().clients == 0, "the lease of a stream no longer wanted is released")
        Self.publish(9, on: a)
        try await Self.settle(loop)
        #expect(session.takePending().isEmpty)
    }

    @Test func closingReleasesEveryLeaseAndDetachesEveryTile() async throws {
        let catalog = try Self.catalog()
        let (a, b) = (try #require(catalog.named("a")), try #require(catalog.named("b")))
        let loop = Self.group.next()
        let session = WallSession(eventLoop: loop)
        session.want(Self.targets(["a", "b"], in: catalog))
        try await Self.settle(loop)
        #expect(a.status().clients == 1 && b.status().clients == 1)
        session.close()
        try await Self.settle(loop)
        #expect(a.status().clients == 0 && b.status().clients == 0)
        Self.publish(1, on: a)
        try await Self.settle(loop)
        #expect(session.takePending().isEmpty)
        // A want after close holds nothing.
        session.want(Self.targets(["a"], in: catalog))
        try await Self.settle(loop)
        #expect(a.status().clients == 0)
    }

    @Test func aFrameOfAWantedStreamWakesTheWriter() async throws {
        let catalog = try Self.catalog()
        let a = try #require(catalog.named("a"))
        let loop = Self.group.next()
        let session = WallSession(eventLoop: loop)
        session.want(Self.targets(["a"], in: catalog))
        try await Self.settle(loop)
        Self.publish(1, on: a)
        try await Self.settle(loop)
        var wakeups = session.wakeups.makeAsyncIterator()
        #expect(await wakeups.next() != nil)
        session.close()
        try await Self.settle(loop)
        #expect(await wakeups.next() == nil, "closing ends the writer's wake-ups")
    }
}

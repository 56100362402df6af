import Logging
import NIOCore
import NIOEmbedded
import Testing

@testable import FramecastServer

/// The WebSocket delivery below the socket: a `/ws` session's tiles on its event loop, its
/// mailbox of one frame per stream, and the client leases its wants hold.
struct WallSessionTests {
    /// Two streams that never run here (no `run()`): only their hubs and leases are used.
    static func catalog() throws -> StreamCatalog {
        let streams = try ["a", "b"].map { name in
            try StreamSupervisor(
                name: name, pipeline: TestPipelines.pattern(width: 64, height: 48), settings: StreamSettings(),
                metrics: DeliveryFixtures.metrics(name), logger: Logger(label: "test"))
        }
        return StreamCatalog(streams)
    }

    static func publish(_ sequence: UInt64, on stream: StreamSupervisor) {
        stream.hub.beginRun(1)
        stream.hub.publish(DeliveryFixtures.frame(sequence, stream: stream.name), run: 1)
    }

    @Test func aSessionGetsTheNewestFrameOfEachWantedStreamOnly() throws {
        let catalog = try Self.catalog()
        let (a, b) = (try #require(catalog.named("a")), try #require(catalog.named("b")))
        let loop = EmbeddedEventLoop()
        let session = WallSession(catalog: catalog, eventLoop: loop)
        defer { session.close() }

        #expect(session.want(["a", "nope"]) == ["nope"])
        loop.run()
        #expect(a.status().clients == 1)
        #expect(b.status().clients == 0)
        for sequence: UInt64 in 1...3 { Self.publish(sequence, on: a) }
        Self.publish(7, on: b)
        loop.run()
        // Three frames while nobody took any: only the newest waits; nothing of an unwanted stream.
        let pending = session.takePending()
        #expect(pending.map(\.frame.sequence) == [3])
        #expect(pending.map(\.stream.name) == ["a"])
        #expect(session.takePending().isEmpty)
    }

    @Test func aStreamJoiningGetsItsNewestFrameAtOnceAndALeavingOneNothingMore() throws {
        let catalog = try Self.catalog()
        let (a, b) = (try #require(catalog.named("a")), try #require(catalog.named("b")))
        Self.publish(5, on: b)
        let loop = EmbeddedEventLoop()
        let session = WallSession(catalog: catalog, eventLoop: loop)
        defer { session.close() }

        _ = session.want(["a", "b"])
        loop.run()
        #expect(session.takePending().map(\.frame.sequence) == [5])
        _ = session.want(["b"])
        loop.run()
        #expect(a.status().clients == 0, "the lease of a stream no longer wanted is released")
        Self.publish(9, on: a)
        loop.run()
        #expect(session.takePending().isEmpty)
    }

    @Test func closingReleasesEveryLeaseAndDetachesEveryTile() throws {
        let catalog = try Self.catalog()
        let (a, b) = (try #require(catalog.named("a")), try #require(catalog.named("b")))
        let loop = EmbeddedEventLoop()
        let session = WallSession(catalog: catalog, eventLoop: loop)
        _ = session.want(["a", "b"])
        loop.run()
        #expect(a.status().clients == 1 && b.status().clients == 1)
        session.close()
        loop.run()
        #expect(a.status().clients == 0 && b.status().clients == 0)
        Self.publish(1, on: a)
        loop.run()
        #expect(session.takePending().isEmpty)
        // A want after close holds nothing.
        _ = session.want(["a"])
        loop.run()
        #expect(a.status().clients == 0)
    }

    @Test func aFrameOfAWantedStreamWakesTheWriter() async throws {
        let catalog = try Self.catalog()
        let a = try #require(catalog.named("a"))
        let loop = EmbeddedEventLoop()
        let session = WallSession(catalog: catalog, eventLoop: loop)
        _ = session.want(["a"])
        loop.run()
        Self.publish(1, on: a)
        loop.run()
        var wakeups = session.wakeups.makeAsyncIterator()
        #expect(await wakeups.next() != nil)
        session.close()
        loop.run()
        #expect(await wakeups.next() == nil, "closing ends the writer's wake-ups")
    }
}

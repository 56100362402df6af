import NIOCore
import NIOEmbedded
import Testing

@testable import FramecastServer

/// A multipart client on an EmbeddedChannel: the connection, a `WriteHolder` between it and the
/// socket, and how its session ended.
final class MultipartClient {
    let loop: EmbeddedEventLoop
    let channel: EmbeddedChannel
    let holder = WriteHolder()
    let connection: MultipartConnection
    let ended: EventLoopFuture<MultipartEnd>

    init(
        hub: FrameHub, framing: StreamFraming = .length, fps: Double? = nil, useMemoryFile: Bool = false,
        loop: EmbeddedEventLoop = EmbeddedEventLoop()
    ) throws {
        self.loop = loop
        channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        let ended = loop.makePromise(of: MultipartEnd.self)
        self.ended = ended.futureResult
        connection = MultipartConnection(
            hub: hub, framing: framing, fps: fps, wire: useMemoryFile ? .http1Sendfile : .http1Copy, useMemoryFile: useMemoryFile, metrics: DeliveryFixtures.metrics(), ended: ended)
        try channel.pipeline.syncOperations.addHandler(connection)
        try channel.pipeline.syncOperations.addHandler(holder, position: .first)
        connection.join()
    }

    /// How the session ended, if it has.
    var end: MultipartEnd? {
        var end: MultipartEnd?
        ended.assumeIsolated().whenSuccess { end = $0 }
        return end
    }

    /// The writes in flight.
    var inFlight: Int { holder.held.count }

    var isOpen: Bool { channel.isActive }

    /// The next write that reached the socket, if any.
    func nextWrite() throws -> IOData? {
        try channel.readOutbound(as: IOData.self)
    }

    /// The bytes of the next write, which must be a buffer.
    func nextBytes() throws -> [UInt8]? {
        guard let write = try nextWrite() else { return nil }
        guard case .byteBuffer(let buffer) = write else {
            Issue.record("expected bytes, got \(write)")
            return nil
        }
        return Array(buffer.readableBytesView)
    }

    func finish() {
        holder.failAll()
        _ = try? channel.finish(acceptAlreadyClosed: true)
    }
}

/// A failed expectation shows the fixture by name only: reflecting its channel would print the
/// whole pipeline (whose description traps in NIO 2.101 when no handler is inbound).
extension MultipartClient: CustomReflectable {
    var customMirror: Mirror { Mirror(self, children: []) }
}

/// One HTTP multipart client's writes: the newest frame, one write at a time.
struct MultipartConnectionTests {
    static func chunk(_ frame: Frame, _ framing: StreamFraming = .length) -> [UInt8] {
        Array(MultipartEncoding(frame, useMemoryFile: false).chunk(for: framing).readableBytesView)
    }

    static func hub() -> FrameHub {
        let hub = FrameHub(metrics: DeliveryFixtures.metrics())
        hub.beginRun(1)
        return hub
    }

    @Test(arguments: StreamFraming.allCases)
    func theFirstWriteIsTheNewestFramesChunk(framing: StreamFraming) throws {
        let hub = Self.hub()
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        let newest = DeliveryFixtures.frame(2)
        hub.publish(newest, run: 1)
        let client = try MultipartClient(hub: hub, framing: framing)
        defer { client.finish() }
        #expect(try client.nextBytes() == Self.chunk(newest, framing))
        #expect(try client.nextWrite() == nil)
        #expect(client.inFlight == 1)
    }

    /// With the memory file, the write is the frame's chunk as a region of that file.
    @Test(arguments: StreamFraming.allCases)
    func withTheMemoryFileWritesAreFileRegions(framing: StreamFraming) throws {
        let hub = Self.hub()
        let frame = DeliveryFixtures.frame(5)
        hub.publish(frame, run: 1)
        let client = try MultipartClient(hub: hub, framing: framing, useMemoryFile: true)
        defer { client.finish() }
        let encoding = frame.encoding(MultipartEncoding.self) { frame in
            Issue.record("the connection did not lay the frame out")
            return MultipartEncoding(frame, useMemoryFile: true)
        }
        try #require(encoding.memoryFile != nil, "memfd_create is unavailable here")
        guard case .fileRegion(let region) = try client.nextWrite() else {
            Issue.record("the write is not a file region")
            return
        }
        #expect(region.readerIndex..<region.endIndex == encoding.range(for: framing))
        let bytes = try region.fileHandle.withUnsafeFileDescriptor { DeliveryFixtures.read($0, region.readerIndex..<region.endIndex) }
        #expect(bytes == Self.chunk(frame, framing))
        client.holder.complete()
    }

    /// A loop's multipart clients write one frame through one layout and one descriptor of its
    /// memory file, made by the first of them: no lock and no shared object per write.
    @Test func clientsOfOneLoopShareTheFramesLoopPart() throws {
        let hub = Self.hub()
        let loop = EmbeddedEventLoop()
        let first = try MultipartClient(hub: hub, useMemoryFile: true, loop: loop)
        let second = try MultipartClient(hub: hub, framing: .early, useMemoryFile: true, loop: loop)
        defer {
            first.finish()
            second.finish()
        }
        let publication = LoopPublication(frame: DeliveryFixtures.frame(1), order: 1)
        _ = first.connection.offer(publication)
        let part = try #require(publication.multipart, "the first client did not keep its part on the publication")
        _ = second.connection.offer(publication)
        #expect(publication.multipart === part, "the second client made its own part")
        guard case .fileRegion(let a) = try first.nextWrite(), case .fileRegion(let b) = try second.nextWrite() else {
            Issue.record("memfd_create is unavailable here, or the writes are not file regions")
            return
        }
        #expect(a.fileHandle === b.fileHandle, "two descriptors of the frame on one loop")
        #expect(a.readerIndex != b.readerIndex, "each framing has its own range")
        first.holder.complete()
        second.holder.complete()
    }

    @Test func whileAWriteIsInFlightOnlyTheNewestFrameWaits() throws {
        let hub = Self.hub()
        let client = try MultipartClient(hub: hub)
        defer { client.finish() }
        #expect(try client.nextWrite() == nil)
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        client.loop.run()
        #expect(try client.nextBytes() == Self.chunk(DeliveryFixtures.frame(1)))
        for sequence: UInt64 in 2...4 { hub.publish(DeliveryFixtures.frame(sequence), run: 1) }
        client.loop.run()
        #expect(try client.nextWrite() == nil)
        #expect(client.inFlight == 1)
        client.holder.complete()
        #expect(try client.nextBytes() == Self.chunk(DeliveryFixtures.frame(4)))
        client.holder.complete()
        #expect(try client.nextWrite() == nil)
        #expect(client.inFlight == 0)
    }

    /// `offer` reports each frame the client skips: one that waited and was replaced.
    @Test func offerReportsTheFramesItReplaces() throws {
        let client = try MultipartClient(hub: Self.hub())
        defer { client.finish() }
        let connection = client.connection
        #expect(!connection.offer(LoopPublication(frame: DeliveryFixtures.frame(1), order: 1)))  // sent
        #expect(!connection.offer(LoopPublication(frame: DeliveryFixtures.frame(2), order: 2)))  // waits
        #expect(connection.offer(LoopPublication(frame: DeliveryFixtures.frame(3), order: 3)))  // replaces 2
        #expect(connection.offer(LoopPublication(frame: DeliveryFixtures.frame(4), order: 4)))  // replaces 3
        #expect(try client.nextBytes() == Self.chunk(DeliveryFixtures.frame(1)))
        #expect(try client.nextWrite() == nil)
        client.holder.complete()
        #expect(try client.nextBytes() == Self.chunk(DeliveryFixtures.frame(4)))
    }

    @Test func aPublicationOlderThanTheLastTakenIsRefused() throws {
        let hub = Self.hub()
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        hub.publish(DeliveryFixtures.frame(2), run: 1)  // order 2, taken at join
        let client = try MultipartClient(hub: hub)
        defer { client.finish() }
        #expect(try client.nextBytes() == Self.chunk(DeliveryFixtures.frame(2)))
        // Refused while a write is in flight, and with none.
        #expect(!client.connection.offer(LoopPublication(frame: DeliveryFixtures.frame(1), order: 1)))
        client.holder.complete()
        #expect(try client.nextWrite() == nil)
        #expect(!client.connection.offer(LoopPublication(frame: DeliveryFixtures.frame(1), order: 1)))
        #expect(!client.connection.offer(LoopPublication(frame: DeliveryFixtures.frame(2), order: 2)))
        #expect(try client.nextWrite() == nil)
        // The hub's next publication goes.
        hub.publish(DeliveryFixtures.frame(3), run: 1)
        client.loop.run()
        #expect(try client.nextBytes() == Self.chunk(DeliveryFixtures.frame(3)))
    }

    /// `?fps=1`: a frame due less than half a second after the last one sent is not sent.
    @Test func aRateLimitSkipsFramesThatComeTooSoon() throws {
        let hub = Self.hub()
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        let client = try MultipartClient(hub: hub, fps: 1)
        defer { client.finish() }
        #expect(try client.nextBytes() == Self.chunk(DeliveryFixtures.frame(1)))
        client.holder.complete()
        hub.publish(DeliveryFixtures.frame(2), run: 1)
        client.loop.run()
        #expect(try client.nextWrite() == nil)
        #expect(client.inFlight == 0)

        // Without a limit, the same frames all go.
        let uncapped = try MultipartClient(hub: hub)
        defer { uncapped.finish() }
        #expect(try uncapped.nextBytes() == Self.chunk(DeliveryFixtures.frame(2)))
        uncapped.holder.complete()
        hub.publish(DeliveryFixtures.frame(3), run: 1)
        uncapped.loop.run()
        #expect(try uncapped.nextBytes() == Self.chunk(DeliveryFixtures.frame(3)))
    }

    enum Departure: CaseIterable {
        case inputClosed, channelClosed
    }

    /// The client leaving ends the session as `.clientLeft` and takes it off the hub: later frames
    /// write nothing and nothing keeps the connection alive.
    @Test(arguments: Departure.allCases)
    func aDepartingClientEndsItsSessionAndLeavesTheHub(departure: Departure) throws {
        let hub = Self.hub()
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        weak var departed: MultipartConnection?
        do {
            let client = try MultipartClient(hub: hub)
            departed = client.connection
            #expect(try client.nextBytes() != nil)
            client.holder.complete()
            switch departure {
            case .inputClosed:
                client.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            case .channelClosed:
                try client.channel.close().wait()
            }
            #expect(client.end == .clientLeft)
            #expect(!client.isOpen)
            #expect(!client.connection.isActive)
            hub.publish(DeliveryFixtures.frame(2), run: 1)
            client.loop.run()
            #expect(try client.nextWrite() == nil)
            #expect(client.inFlight == 0)
            client.finish()
        }
        // Had it stayed in the hub's fan-out, the hub would still hold it.
        #expect(departed == nil)
    }

    @Test func finishingTheHubEndsTheSessionAsStopped() throws {
        let hub = Self.hub()
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        let client = try MultipartClient(hub: hub)
        defer { client.finish() }
        #expect(try client.nextBytes() != nil)
        hub.finish()
        client.loop.run()
        #expect(client.end == .stopped)
        // The write in flight still completes; the connection stays open for the closing boundary.
        client.holder.complete()
        #expect(client.isOpen)
        #expect(try client.nextWrite() == nil)

        // A client arriving after the hub finished ends at once.
        let late = try MultipartClient(hub: hub, loop: client.loop)
        defer { late.finish() }
        #expect(late.end == .stopped)
        #expect(try late.nextWrite() == nil)
    }

    @Test func stoppingAClientLetsItsWriteFinishAndSendsNothingMore() throws {
        let hub = Self.hub()
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        let client = try MultipartClient(hub: hub)
        defer { client.finish() }
        #expect(try client.nextBytes() != nil)
        hub.publish(DeliveryFixtures.frame(2), run: 1)
        client.loop.run()
        client.connection.stop()
        #expect(client.end == .stopped)
        client.holder.complete()
        #expect(try client.nextWrite() == nil)
        #expect(client.isOpen)
    }

    /// Every client of a framing writes the same bytes: the frame is laid out once, not copied.
    @Test func clientsShareOneLayoutOfTheFrame() throws {
        let hub = Self.hub()
        hub.publish(DeliveryFixtures.frame(1), run: 1)
        let loop = EmbeddedEventLoop()
        let first = try MultipartClient(hub: hub, loop: loop)
        defer { first.finish() }
        let second = try MultipartClient(hub: hub, loop: loop)
        defer { second.finish() }
        guard case .byteBuffer(let a) = try first.nextWrite(), case .byteBuffer(let b) = try second.nextWrite() else {
            Issue.record("expected two buffers")
            return
        }
        #expect(a == b)
        let addresses = [a, b].map { buffer in buffer.withUnsafeReadableBytes { UInt(bitPattern: $0.baseAddress) } }
        #expect(addresses[0] == addresses[1])
    }

    /// The connection's frames skip the client timeout's handler; it reports them instead, so a
    /// frame the client does not accept within the timeout still closes the connection, and frames
    /// that keep completing never do.
    @Test func aFrameNotAcceptedWithinTheClientTimeoutClosesTheConnection() throws {
        let hub = Self.hub()
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        let timeout = WriteTimeoutHandler(timeout: .seconds(4))
        let holder = WriteHolder()
        try channel.pipeline.syncOperations.addHandler(timeout)
        let connection = MultipartConnection(
            hub: hub, framing: .length, fps: nil, wire: .http1Copy, useMemoryFile: false, metrics: DeliveryFixtures.metrics(),
            ended: loop.makePromise(of: MultipartEnd.self))
        connection.writeTimeout = timeout
        try channel.pipeline.syncOperations.addHandler(connection, position: .first)
        try channel.pipeline.syncOperations.addHandler(holder, position: .first)
        connection.join()
        defer {
            holder.failAll()
            _ = try? channel.finish(acceptAlreadyClosed: true)
        }
        for sequence: UInt64 in 1...6 {
            hub.publish(DeliveryFixtures.frame(sequence), run: 1)
            loop.run()
            loop.advanceTime(by: .seconds(3))
            #expect(channel.isActive, "frame \(sequence) completed within the timeout")
            holder.complete()
        }
        hub.publish(DeliveryFixtures.frame(7), run: 1)
        loop.run()
        #expect(holder.held.count == 1)
        loop.advanceTime(by: .milliseconds(3500))
        #expect(channel.isActive)
        loop.advanceTime(by: .milliseconds(1500))
        #expect(!channel.isActive, "a frame in flight for 5 s of a 4 s timeout")
    }
}

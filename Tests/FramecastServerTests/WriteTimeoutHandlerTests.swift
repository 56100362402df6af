import NIOCore
import NIOEmbedded
import Testing

@testable import FramecastServer

/// Stands next to the socket and keeps each write's promise instead of completing it: the write
/// stays in flight until the test completes it (EmbeddedChannel completes a write at its flush).
final class WriteHolder: ChannelOutboundHandler {
    typealias OutboundIn = NIOAny

    private(set) var held: [EventLoopPromise<Void>] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if let promise { held.append(promise) }
        context.write(data, promise: nil)
    }

    /// Completes the oldest write held.
    func complete(_ result: Result<Void, any Error> = .success(())) {
        let promise = held.removeFirst()
        promise.completeWith(result)
    }

    /// Fails every write still held (a promise must not be dropped unfulfilled).
    func failAll() {
        while !held.isEmpty { complete(.failure(ChannelError.ioOnClosedChannel)) }
    }
}

/// `--client-timeout`: a write that does not complete within it closes the connection.
///
/// The pipeline is head ↔ `WriteHolder` ↔ `WriteTimeoutHandler` ↔ tail: writes start at the tail,
/// so the timeout handler sees each one (and its promise) and the holder then keeps the write in
/// flight until the test completes it. Time is the EmbeddedEventLoop's, moved by `advanceTime`.
struct WriteTimeoutHandlerTests {
    static let timeout = TimeAmount.seconds(4)

    final class Connection {
        let channel: EmbeddedChannel
        let holder = WriteHolder()

        init() throws {
            channel = EmbeddedChannel(handlers: [holder, WriteTimeoutHandler(timeout: WriteTimeoutHandlerTests.timeout)])
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
        }

        var loop: EmbeddedEventLoop { channel.embeddedEventLoop }
        var isOpen: Bool { channel.isActive }

        /// Writes a few bytes from the tail; `promised` passes a promise of the caller's own.
        func write(promised: Bool = true) {
            let promise = promised ? loop.makePromise(of: Void.self) : nil
            channel.pipeline.syncOperations.writeAndFlush(NIOAny(ByteBuffer(string: "part")), promise: promise)
        }

        /// Moves the clock to `fraction` of a timeout after the start of the test.
        func advance(to fraction: Double) {
            let target = NIODeadline.uptimeNanoseconds(0) + .nanoseconds(Int64(fraction * Double(WriteTimeoutHandlerTests.timeout.nanoseconds)))
            if target > loop.now { loop.advanceTime(to: target) }
        }

        func finish() {
            holder.failAll()
            _ = try? channel.finish(acceptAlreadyClosed: true)
        }
    }

    @Test func theHandlerSeesEachWriteAndTheHolderKeepsItInFlight() throws {
        let connection = try Connection()
        defer { connection.finish() }
        connection.write()
        connection.write(promised: false)
        #expect(connection.holder.held.count == 2, "the timeout handler gives each write a promise")
        let written = try connection.channel.readOutbound(as: ByteBuffer.self)
        #expect(written == ByteBuffer(string: "part"))
    }

    /// A write made half a check period into the test: the connection closes at the first check
    /// at least a timeout after it, between 1 and 1.25 timeouts in.
    @Test(arguments: [true, false])
    func aWriteThatNeverCompletesClosesTheConnection(promised: Bool) throws {
        let connection = try Connection()
        defer { connection.finish() }
        connection.advance(to: 0.125)
        connection.write(promised: promised)
        connection.advance(to: 0.125 + 0.999)
        #expect(connection.isOpen, "closed before a timeout had passed")
        connection.advance(to: 0.125 + 1.25)
        #expect(!connection.isOpen, "still open 1.25 timeouts after the write")
    }

    @Test func aWriteCompletedInTimeKeepsTheConnection() throws {
        let connection = try Connection()
        defer { connection.finish() }
        connection.write()
        connection.advance(to: 0.95)
        connection.holder.complete()
        connection.advance(to: 20)
        #expect(connection.isOpen)
    }

    /// A slow client that keeps taking bytes: a write is always in flight, each completes within a
    /// timeout of the last completion, and the whole takes ten timeouts.
    @Test func writesThatEachCompleteInTimeNeverCloseIt() throws {
        let connection = try Connection()
        defer { connection.finish() }
        connection.write()
        for step in 1...11 {
            connection.advance(to: 0.9 * Double(step))
            connection.write()
            connection.holder.complete()
            #expect(connection.holder.held.count == 1)
        }
        connection.holder.complete()
        connection.advance(to: 30)
        #expect(connection.isOpen)
    }

    /// After the last completion, the write still in flight has a timeout from then.
    @Test func theWaitRunsFromTheLastCompletion() throws {
        let connection = try Connection()
        defer { connection.finish() }
        connection.write()
        connection.write()
        connection.advance(to: 0.9)
        connection.holder.complete()
        connection.advance(to: 0.9 + 0.999)
        #expect(connection.isOpen)
        connection.advance(to: 0.9 + 1.25)
        #expect(!connection.isOpen)
    }

    @Test func anIdleConnectionIsNeverClosed() throws {
        let connection = try Connection()
        defer { connection.finish() }
        connection.advance(to: 100)
        #expect(connection.isOpen)
        // Nor one whose writes all completed.
        connection.write()
        connection.holder.complete()
        connection.advance(to: 200)
        #expect(connection.isOpen)
    }
}

/// Shown by name only when an expectation fails (see `MultipartClient`).
extension WriteTimeoutHandlerTests.Connection: CustomReflectable {
    var customMirror: Mirror { Mirror(self, children: []) }
}

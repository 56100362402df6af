import NIOCore
import NIOEmbedded
import Testing

@testable import FramecastServer

/// `--header-timeout`: one deadline for the whole of each request, which nothing the client sends
/// moves. Time is the EmbeddedEventLoop's, moved by `advanceTime`.
struct RequestDeadlineHandlerTests {
    static let deadline = TimeAmount.seconds(10)

    final class Connection {
        let channel = EmbeddedChannel()
        let handler = RequestDeadlineHandler(deadline: RequestDeadlineHandlerTests.deadline)

        /// The handler is added once the connection is open, as the server does: its clock starts.
        init() throws {
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 8080)).wait()
            try channel.pipeline.syncOperations.addHandler(handler, position: .first)
        }

        var loop: EmbeddedEventLoop { channel.embeddedEventLoop }
        var isOpen: Bool { channel.isActive }

        /// Moves the clock to `fraction` of a deadline after the handler was added.
        func advance(to fraction: Double) {
            let nanoseconds = Int64(fraction * Double(RequestDeadlineHandlerTests.deadline.nanoseconds))
            loop.advanceTime(to: .uptimeNanoseconds(0) + .nanoseconds(nanoseconds))
        }

        /// One byte from the client, passed on untouched.
        func send(_ byte: UInt8) throws {
            try channel.writeInbound(ByteBuffer(bytes: [byte]))
            let passed = try channel.readInbound(as: ByteBuffer.self)
            #expect(passed == ByteBuffer(bytes: [byte]))
        }

        func finish() {
            _ = try? channel.finish(acceptAlreadyClosed: true)
        }
    }

    @Test func aConnectionThatSendsNothingIsClosedAtTheDeadline() throws {
        let connection = try Connection()
        defer { connection.finish() }
        connection.advance(to: 0.999)
        #expect(connection.isOpen)
        connection.advance(to: 1)
        #expect(!connection.isOpen)
    }

    /// A byte every 0.4 deadlines (blank lines before a request line, or a head trickled in)
    /// moves nothing.
    @Test func bytesTrickledInDoNotMoveTheDeadline() throws {
        let connection = try Connection()
        defer { connection.finish() }
        for (step, byte) in Array("\r\nG".utf8).enumerated() {
            connection.advance(to: 0.4 * Double(step))
            try connection.send(byte)
        }
        connection.advance(to: 0.999)
        #expect(connection.isOpen)
        connection.advance(to: 1)
        #expect(!connection.isOpen)
    }

    @Test func aRequestReceivedWholeIsNoLongerUnderTheDeadline() throws {
        let connection = try Connection()
        defer { connection.finish() }
        connection.advance(to: 0.5)
        connection.handler.requestReceived()
        connection.advance(to: 20)
        #expect(connection.isOpen)
    }

    /// Once the response is sent, the next request has a whole deadline from then.
    @Test func awaitingTheNextRequestRestartsTheDeadline() throws {
        let connection = try Connection()
        defer { connection.finish() }
        connection.advance(to: 0.5)
        connection.handler.requestReceived()
        connection.advance(to: 3)
        connection.handler.awaitingRequest()
        connection.advance(to: 3.999)
        #expect(connection.isOpen)
        connection.advance(to: 4)
        #expect(!connection.isOpen)
    }

    /// A pipelined request's head arriving while the clock is stopped starts it; one arriving
    /// while it runs keeps its earlier start.
    @Test func aRequestStartingWhileTheClockIsStoppedStartsIt() throws {
        let connection = try Connection()
        defer { connection.finish() }
        connection.advance(to: 0.5)
        connection.handler.requestReceived()
        connection.advance(to: 2)
        connection.handler.startIfStopped()
        connection.advance(to: 2.5)
        connection.handler.startIfStopped()
        connection.advance(to: 2.999)
        #expect(connection.isOpen)
        connection.advance(to: 3)
        #expect(!connection.isOpen)
    }

    /// Removed (the connection became a WebSocket), the handler closes nothing.
    @Test func aRemovedHandlerClosesNothing() throws {
        let connection = try Connection()
        defer { connection.finish() }
        connection.advance(to: 0.5)
        try connection.channel.pipeline.syncOperations.removeHandler(connection.handler).wait()
        connection.advance(to: 5)
        #expect(connection.isOpen)
    }
}

/// Shown by name only when an expectation fails (see `MultipartClient`).
extension RequestDeadlineHandlerTests.Connection: CustomReflectable {
    var customMirror: Mirror { Mirror(self, children: []) }
}

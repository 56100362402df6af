import CoreMetrics
import Glibc
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing

@testable import FramecastServer

/// What the delivery unit tests share: frames with bytes that only look like a JPEG, metrics that
/// go nowhere, and a reader of one HTTP chunk.
enum DeliveryFixtures {
    /// 2025-11-26 02:17:36.042137 UTC: its `X-Timestamp` is "1764123456.042137".
    static let capturedAt = WallClock.Instant(microseconds: 1_764_123_456_042_137)

    static func frame(_ sequence: UInt64, stream: String = "cam", placeholder: Bool = false) -> Frame {
        var jpeg = ByteBuffer(bytes: [0xFF, 0xD8, 0xFF, 0xE0])
        jpeg.writeString("frame \(sequence) of \(stream)")
        jpeg.writeBytes([0xFF, 0xD9])
        return Frame(
            stream: stream, sequence: sequence, capturedAt: capturedAt, width: 64, height: 48, isPlaceholder: placeholder,
            jpeg: jpeg)
    }

    static func metrics(_ stream: String = "cam") -> StreamMetrics {
        StreamMetrics(stream: stream, factory: NOOPMetricsHandler.instance)
    }

    /// The body of `bytes` when they are exactly one whole HTTP/1.1 chunk (`<hex>\r\n<body>\r\n`).
    static func chunkBody(_ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= 2,
            let lineEnd = (0..<(bytes.count - 1)).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }),
            let length = Int(String(decoding: bytes[..<lineEnd], as: UTF8.self), radix: 16)
        else { return nil }
        let start = lineEnd + 2
        guard bytes.count == start + length + 2, bytes[(start + length)...].elementsEqual([13, 10]) else { return nil }
        return Array(bytes[start..<(start + length)])
    }

    /// The multipart part a client of `framing` expects for `frame`.
    static func expectedPart(_ frame: Frame, _ framing: StreamFraming) -> [UInt8] {
        let jpeg = Array(frame.jpeg.readableBytesView)
        let boundaryLine = Array("\r\n--framecast\r\n".utf8)
        switch framing {
        case .length:
            var headers = "Content-Type: image/jpeg\r\nContent-Length: \(jpeg.count)\r\nX-Timestamp: \(frame.capturedAt.headerValue)\r\n"
            if frame.isPlaceholder { headers += "X-Placeholder: no-signal\r\n" }
            headers += "\r\n"
            return Array(headers.utf8) + jpeg + boundaryLine
        case .early:
            return jpeg + boundaryLine + Array("Content-Type: image/jpeg\r\n\r\n".utf8)
        }
    }

    /// `range` of the file `descriptor`, read with pread(2).
    static func read(_ descriptor: CInt, _ range: Range<Int>) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: range.count)
        let count = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, range.count, off_t(range.lowerBound)) }
        return count == range.count ? bytes : []
    }
}

/// The bytes of each frame's part as multipart clients receive them, built once per frame.
struct MultipartEncodingTests {
    @Test(arguments: StreamFraming.allCases)
    func eachChunkIsOneWholeHTTPChunkHoldingThePart(framing: StreamFraming) throws {
        let frame = DeliveryFixtures.frame(7)
        let encoding = MultipartEncoding(frame, useMemoryFile: false)
        let chunk = Array(encoding.chunk(for: framing).readableBytesView)
        let body = try #require(DeliveryFixtures.chunkBody(chunk), "not one whole chunk: \(String(decoding: chunk, as: UTF8.self))")
        #expect(body == DeliveryFixtures.expectedPart(frame, framing))
        #expect(encoding.range(for: framing).count == chunk.count)
        #expect(encoding.memoryFile == nil)
    }

    @Test func lengthFramingCarriesLengthAndTimestampAndEndsWithTheBoundary() throws {
        let frame = DeliveryFixtures.frame(1)
        let body = try #require(DeliveryFixtures.chunkBody(Array(MultipartEncoding(frame, useMemoryFile: false).chunk(for: .length).readableBytesView)))
        let text = String(decoding: body, as: UTF8.self)
        #expect(text.hasPrefix("Content-Type: image/jpeg\r\nContent-Length: \(frame.jpeg.readableBytes)\r\nX-Timestamp: 1764123456.042137\r\n\r\n"))
        #expect(text.hasSuffix("\r\n--framecast\r\n"))
        #expect(!text.contains("X-Placeholder"))
    }

    @Test func earlyFramingStartsWithTheJPEGAndEndsWithTheNextPartsHeaders() throws {
        let frame = DeliveryFixtures.frame(1)
        let body = try #require(DeliveryFixtures.chunkBody(Array(MultipartEncoding(frame, useMemoryFile: false).chunk(for: .early).readableBytesView)))
        #expect(body.starts(with: frame.jpeg.readableBytesView))
        #expect(String(decoding: body.dropFirst(frame.jpeg.readableBytes), as: UTF8.self) == "\r\n--framecast\r\nContent-Type: image/jpeg\r\n\r\n")
    }

    /// Early framing has no headers of its own (they went out with the previous part), so only
    /// length framing can mark a placeholder.
    @Test func placeholdersAreMarkedNoSignal() throws {
        let frame = DeliveryFixtures.frame(0, placeholder: true)
        let encoding = MultipartEncoding(frame, useMemoryFile: false)
        let length = try #require(DeliveryFixtures.chunkBody(Array(encoding.chunk(for: .length).readableBytesView)))
        let text = String(decoding: length, as: UTF8.self)
        #expect(text.contains("\r\nX-Placeholder: no-signal\r\n\r\n"))
        #expect(length == DeliveryFixtures.expectedPart(frame, .length))
        let early = try #require(DeliveryFixtures.chunkBody(Array(encoding.chunk(for: .early).readableBytesView)))
        #expect(early == DeliveryFixtures.expectedPart(frame, .early))
    }

    @Test func theMemoryFileHoldsExactlyTheChunks() throws {
        let frame = DeliveryFixtures.frame(3)
        let encoding = MultipartEncoding(frame, useMemoryFile: true)
        let file = try #require(encoding.memoryFile, "memfd_create is unavailable here")
        for framing in StreamFraming.allCases {
            let chunk = Array(encoding.chunk(for: framing).readableBytesView)
            #expect(DeliveryFixtures.read(file, encoding.range(for: framing)) == chunk, "\(framing)")
        }
        // The two chunks back to back, and nothing else.
        let length = encoding.range(for: .length)
        let early = encoding.range(for: .early)
        #expect(length.lowerBound == 0)
        #expect(early.lowerBound == length.upperBound)
        var byte: UInt8 = 0
        #expect(pread(file, &byte, 1, off_t(early.upperBound - 1)) == 1)
        #expect(pread(file, &byte, 1, off_t(early.upperBound)) == 0, "the file goes on after the chunks")
    }

    /// Each loop sends through its own descriptor of the one file, opened once per frame.
    @Test func eachLoopHasItsOwnDescriptorOfTheFile() throws {
        let encoding = MultipartEncoding(DeliveryFixtures.frame(4), useMemoryFile: true)
        try #require(encoding.memoryFile != nil, "memfd_create is unavailable here")
        let first = EmbeddedEventLoop()
        let second = EmbeddedEventLoop()
        let a = try #require(encoding.file(for: first))
        #expect(encoding.file(for: first) === a)
        let b = try #require(encoding.file(for: second))
        #expect(a !== b)
        let descriptors = try [a, b].map { file in try file.handle.withUnsafeFileDescriptor { $0 } }
        #expect(descriptors[0] != descriptors[1])
        #expect(!descriptors.contains(encoding.memoryFile!))
        let range = encoding.range(for: .early)
        #expect(DeliveryFixtures.read(descriptors[1], range) == Array(encoding.chunk(for: .early).readableBytesView))
        #expect(MultipartEncoding(DeliveryFixtures.frame(4), useMemoryFile: false).file(for: first) == nil)
    }

    /// A frame only hub consumers, snapshots and the wall see is never laid out for HTTP
    /// multipart: it costs no second buffer and no memfd.
    @Test func framesNobodyStreamsOverHTTPAreNotLaidOutForIt() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let hub = FrameHub(metrics: DeliveryFixtures.metrics())
        hub.beginRun(1)
        let consumer = try await loop.submit { NIOLoopBound(RecordingConsumer.attached(to: hub, on: loop), eventLoop: loop) }.get()
        let frame = DeliveryFixtures.frame(1)
        #expect(hub.publish(frame, run: 1))
        hub.repeatLatest()
        let seen = try await loop.submit { consumer.value.sequences }.get()
        #expect(seen == [1, 1])
        let snapshot = await SnapshotWaiter.frame(from: hub, capturedAfter: frame.capturedAt, timeout: 5, on: loop)
        #expect(snapshot === frame)
        _ = frame.encoding(WallMessage.self, make: WallMessage.init)
        #expect(frame.hasEncoding(WallMessage.self))
        #expect(!frame.hasEncoding(MultipartEncoding.self))
        hub.finish()
        try await group.shutdownGracefully()
    }

    @Test(arguments: [false, true])
    func theFirstMultipartClientLaysTheFrameOut(useMemoryFile: Bool) throws {
        let hub = FrameHub(metrics: DeliveryFixtures.metrics())
        hub.beginRun(1)
        let frame = DeliveryFixtures.frame(1)
        hub.publish(frame, run: 1)
        #expect(!frame.hasEncoding(MultipartEncoding.self))
        let client = try MultipartClient(hub: hub, useMemoryFile: useMemoryFile)
        defer { client.finish() }
        #expect(try client.nextWrite() != nil)
        #expect(frame.hasEncoding(MultipartEncoding.self))
    }
}

import FramecastServer
import Glibc
import NIOCore
import Testing

/// Each frame's parts as stream clients receive them: whole HTTP chunks, and a memory file that
/// holds exactly the same bytes.
struct WirePartsTests {
    static func frame(sendfile: Bool) -> Frame {
        let jpeg: [UInt8] = [0xFF, 0xD8] + (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 31) } + [0xFF, 0xD9]
        let framer = MultipartFramer(streamName: "main", sendfile: sendfile)
        return jpeg.withUnsafeBytes { bytes in
            framer.makeFrame(jpeg: bytes, width: 64, height: 48, sequence: 7, capturedAt: WallClock.now())
        }
    }

    /// `<hex length>\r\n<body>\r\n` → body, or nil when the chunk is malformed.
    static func unchunk(_ chunk: ByteBuffer) -> [UInt8]? {
        let bytes = Array(chunk.readableBytesView)
        guard let lineEnd = (0..<bytes.count - 1).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }),
              let length = Int(String(decoding: bytes[..<lineEnd], as: UTF8.self), radix: 16),
              bytes.count == lineEnd + 2 + length + 2, bytes.suffix(2) == [13, 10]
        else { return nil }
        return Array(bytes[(lineEnd + 2)..<(lineEnd + 2 + length)])
    }

    @Test func eachFramingIsOneWholeChunkOfItsPart() throws {
        let frame = Self.frame(sendfile: false)
        #expect(Self.unchunk(frame.wire.lengthChunk) == Array(frame.lengthFramed.readableBytesView))
        #expect(Self.unchunk(frame.wire.earlyChunk) == Array(frame.earlyFramed.readableBytesView))
        #expect(frame.wire.memoryFile == nil)
    }

    @Test func theMemoryFileHoldsTheSameBytesAsTheBuffer() throws {
        let frame = Self.frame(sendfile: true)
        let file = try #require(frame.wire.memoryFile, "memfd_create is missing on this kernel")
        for (chunk, range) in [(frame.wire.lengthChunk, frame.wire.lengthRange), (frame.wire.earlyChunk, frame.wire.earlyRange)] {
            var read = [UInt8](repeating: 0, count: range.count)
            let count = read.withUnsafeMutableBytes { pread(file, $0.baseAddress, range.count, off_t(range.lowerBound)) }
            #expect(count == range.count)
            #expect(read == Array(chunk.readableBytesView))
        }
    }
}

import NIOCore
import Testing

@testable import FramecastServer

/// The relay's reader of another server's multipart stream: any split of the bytes gives the
/// same parts; hostile streams are errors, never a growing buffer.
struct MultipartParserTests {
    static func stream(_ parts: [(headers: String, body: [UInt8])], boundary: String = "framecast") -> [UInt8] {
        var bytes: [UInt8] = []
        for part in parts {
            bytes += Array("--\(boundary)\r\n\(part.headers)\r\n".utf8) + part.body + Array("\r\n".utf8)
        }
        return bytes + Array("--\(boundary)--\r\n".utf8)
    }

    static let bodies: [[UInt8]] = [[0xFF, 0xD8, 1, 2, 3, 0xFF, 0xD9], Array(repeating: 0x2D, count: 300) + [13, 10], [0xFF, 0xD8, 0xFF, 0xD9]]

    @Test(arguments: [true, false])
    func everySplitGivesTheSameParts(withLengths: Bool) throws {
        let bytes = Self.stream(Self.bodies.enumerated().map { index, body in
            (withLengths ? "Content-Type: image/jpeg\r\nContent-Length: \(body.count)\r\nX-Timestamp: 17.\(index)\r\n" : "Content-Type: image/jpeg\r\n", body)
        })
        for chunk in [1, 2, 7, 64, bytes.count] {
            var parser = MultipartParser(boundary: "framecast")
            var parts: [MultipartParser.Part] = []
            for start in stride(from: 0, to: bytes.count, by: chunk) {
                parts += try parser.append(ByteBuffer(bytes: bytes[start..<min(start + chunk, bytes.count)]))
            }
            // Without lengths a part ends at the next delimiter: the last one with the closing one.
            #expect(parts.map { Array($0.body.readableBytesView) } == Self.bodies, "chunks of \(chunk)")
            if withLengths { #expect(parts.map { $0.headers["x-timestamp"] } == ["17.0", "17.1", "17.2"]) }
        }
    }

    @Test func boundariesAreReadFromTheContentType() {
        #expect(MultipartParser.boundary(ofContentType: "multipart/x-mixed-replace; boundary=framecast") == "framecast")
        #expect(MultipartParser.boundary(ofContentType: "multipart/x-mixed-replace;boundary=\"--myboundary\"") == "myboundary")
        #expect(MultipartParser.boundary(ofContentType: "Multipart/X-Mixed-Replace; charset=x; BOUNDARY=b") == "b")
        for refused in ["image/jpeg", "multipart/x-mixed-replace", "multipart/x-mixed-replace; boundary=", "multipart/x; boundary=\(String(repeating: "a", count: 300))"] {
            #expect(MultipartParser.boundary(ofContentType: refused) == nil, "\(refused)")
        }
    }

    @Test func hostileStreamsAreErrors() throws {
        var huge = MultipartParser(boundary: "b", maximumPart: 1000)
        #expect(throws: MultipartParser.Failure.partTooLarge(1000)) {
            _ = try huge.append(ByteBuffer(string: "--b\r\nContent-Length: 5000\r\n\r\n"))
        }
        var endless = MultipartParser(boundary: "b", maximumPart: 1000)
        #expect(throws: MultipartParser.Failure.partTooLarge(1000)) {
            _ = try endless.append(ByteBuffer(string: "--b\r\n\r\n" + String(repeating: "x", count: 2000)))
        }
        var headers = MultipartParser(boundary: "b")
        #expect(throws: MultipartParser.Failure.headersTooLarge) {
            _ = try headers.append(ByteBuffer(string: "--b\r\n" + String(repeating: "X-A: b\r\n", count: 3000)))
        }
        for broken in ["--b\r\nno colon here\r\n\r\n", "--b\r\nContent-Length: -1\r\n\r\n", "--b\r\nContent-Length: 1e3\r\n\r\n"] {
            var parser = MultipartParser(boundary: "b")
            #expect(throws: MultipartParser.Failure.malformedHeaders, "\(broken)") { _ = try parser.append(ByteBuffer(string: broken)) }
        }
        // Garbage with no delimiter at all is bounded too.
        var garbage = MultipartParser(boundary: "b", maximumPart: 1000)
        #expect(throws: MultipartParser.Failure.partTooLarge(1000)) {
            for _ in 0..<40 { _ = try garbage.append(ByteBuffer(string: String(repeating: "z", count: 1000))) }
        }
    }
}

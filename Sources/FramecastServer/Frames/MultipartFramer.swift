public import NIOCore

/// How a client's multipart stream is laid out. Both carry the same frames.
public enum StreamFraming: String, Sendable, CaseIterable {
    /// Each part has Content-Type, Content-Length and X-Timestamp; the boundary line follows the
    /// JPEG at once. What ffmpeg, GStreamer, VLC, OpenCV and scripts read best.
    case length
    /// After each JPEG: the boundary line and the next part's whole header block. Chromium paints
    /// a part only once the next part's body begins, so this is the only layout it shows without a
    /// frame of lag. Parts cannot carry Content-Length or X-Timestamp.
    case early

    /// Browsers get early framing, everything else length framing; `?framing=` overrides.
    public static func choose(userAgent: String?, requested: String?) -> StreamFraming? {
        if let requested { return StreamFraming(rawValue: requested) }
        // Every browser's User-Agent starts with "Mozilla/"; ffmpeg (Lavf), GStreamer, VLC, curl
        // and HTTP libraries do not claim it.
        if let userAgent, userAgent.hasPrefix("Mozilla/") { return .early }
        return .length
    }
}

/// Builds each frame's multipart bytes once, and the fixed opening and closing of a stream.
public struct MultipartFramer: Sendable {
    public let boundary: String
    private let boundaryLine: [UInt8]   // "\r\n--B\r\n"
    private let partHeaderBlock: [UInt8]  // "Content-Type: image/jpeg\r\n\r\n"
    private let streamTag: [UInt8]  // name, then its length
    private let allocator = ByteBufferAllocator()
    /// Frames also go into a memory file for `sendfile(2)` (see `WireParts`).
    public let sendfile: Bool

    /// `streamName` tags each frame's WebSocket message (at most 255 bytes of it are kept).
    public init(boundary: String = "framecast", streamName: String = "", sendfile: Bool = true) {
        self.sendfile = sendfile
        self.boundary = boundary
        self.boundaryLine = Array("\r\n--\(boundary)\r\n".utf8)
        self.partHeaderBlock = Array("Content-Type: image/jpeg\r\n\r\n".utf8)
        let name = Array(streamName.utf8.prefix(255))
        self.streamTag = name + [UInt8(name.count)]
    }

    public var contentType: String { "multipart/x-mixed-replace; boundary=\(boundary)" }

    /// Sent as soon as a client's stream opens: the first boundary line (and, for early framing,
    /// the first part's header block, so the first JPEG can follow directly).
    public func opening(_ framing: StreamFraming) -> ByteBuffer {
        switch framing {
        case .length: ByteBuffer(string: "--\(boundary)\r\n")
        case .early: ByteBuffer(string: "--\(boundary)\r\nContent-Type: image/jpeg\r\n\r\n")
        }
    }

    /// Ends a stream cleanly with the close delimiter. A length-framing stream stands just after a
    /// boundary line (an empty part closes it); an early-framing stream stands inside a part's body.
    public func closing(_ framing: StreamFraming) -> ByteBuffer {
        switch framing {
        case .length: ByteBuffer(string: "\r\n\r\n--\(boundary)--\r\n")
        case .early: ByteBuffer(string: "\r\n--\(boundary)--\r\n")
        }
    }

    /// Lays out one frame: the only copy of the JPEG bytes out of the pipeline's buffer.
    /// A placeholder part says so in length framing (`X-Placeholder: no-signal`), for scripts.
    public func makeFrame(
        jpeg: UnsafeRawBufferPointer, width: Int, height: Int, sequence: UInt64, capturedAt: WallClock.Instant, isPlaceholder: Bool = false
    ) -> Frame {
        let marker = isPlaceholder ? "X-Placeholder: no-signal\r\n" : ""
        let headers = "Content-Type: image/jpeg\r\nContent-Length: \(jpeg.count)\r\nX-Timestamp: \(capturedAt.headerValue)\r\n\(marker)\r\n"
        var storage = allocator.buffer(
            capacity: headers.utf8.count + jpeg.count + boundaryLine.count + partHeaderBlock.count + streamTag.count + 12)
        let headerLength = storage.writeString(headers)
        storage.writeBytes(jpeg)
        storage.writeBytes(boundaryLine)
        storage.writeBytes(partHeaderBlock)
        storage.writeBytes(streamTag)
        storage.writeInteger(capturedAt.secondsSinceEpoch.bitPattern, endianness: .big)
        storage.writeInteger(UInt32(jpeg.count), endianness: .big)
        return Frame(
            sequence: sequence, capturedAt: capturedAt, width: width, height: height, isPlaceholder: isPlaceholder, storage: storage,
            headerLength: headerLength, jpegLength: jpeg.count, boundaryLineLength: boundaryLine.count,
            trailerLength: boundaryLine.count + partHeaderBlock.count, useMemoryFile: sendfile, allocator: allocator)
    }
}

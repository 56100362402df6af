public import NIOCore

/// One JPEG from the pipeline, laid out once in one buffer that every client writes as is.
///
/// The storage holds `[length-framing headers][JPEG][\r\n--B\r\n][Content-Type: image/jpeg\r\n\r\n][tag]`
/// where the tag (stream name, capture time, JPEG length) ends the WebSocket message. The views
/// below are slices of that one storage (no copies): a length-framing client writes
/// `lengthFramed`, an early-framing client writes `earlyFramed`, a WebSocket client sends
/// `webSocketMessage`, a snapshot is `jpeg`. HTTP stream clients are sent `wire`: the same parts
/// as HTTP chunks, built once here for every client.
/// Fields are `let`: mutating a slice would copy the whole JPEG.
public struct Frame: Sendable {
    /// Increases by one per frame published (repeats keep their number).
    public let sequence: UInt64
    /// When the frame left the pipeline (the appsink callback), wall clock.
    public let capturedAt: WallClock.Instant
    public let width: Int
    public let height: Int
    /// A "NO SIGNAL" picture standing in while the pipeline is down: never a snapshot.
    public let isPlaceholder: Bool
    /// The JPEG alone.
    public let jpeg: ByteBuffer
    /// Part headers with Content-Length and X-Timestamp, the JPEG, then the next boundary line.
    public let lengthFramed: ByteBuffer
    /// The JPEG, then the next boundary line and the next part's whole header block.
    public let earlyFramed: ByteBuffer
    /// The JPEG first, the tag last: `[JPEG][…][name][u8 name length][f64 capture time][u32 JPEG length]`
    /// (big-endian; read from the end).
    public let webSocketMessage: ByteBuffer
    /// Both parts as HTTP chunks, in a buffer and a memory file: what HTTP stream clients are sent.
    public let wire: WireParts

    init(
        sequence: UInt64, capturedAt: WallClock.Instant, width: Int, height: Int, isPlaceholder: Bool, storage: ByteBuffer,
        headerLength: Int, jpegLength: Int, boundaryLineLength: Int, trailerLength: Int, useMemoryFile: Bool,
        allocator: ByteBufferAllocator
    ) {
        self.sequence = sequence
        self.capturedAt = capturedAt
        self.width = width
        self.height = height
        self.isPlaceholder = isPlaceholder
        let base = storage.readerIndex
        self.jpeg = storage.getSlice(at: base + headerLength, length: jpegLength)!
        self.lengthFramed = storage.getSlice(at: base, length: headerLength + jpegLength + boundaryLineLength)!
        self.earlyFramed = storage.getSlice(at: base + headerLength, length: jpegLength + trailerLength)!
        self.webSocketMessage = storage.getSlice(at: base + headerLength, length: storage.readableBytes - headerLength)!
        self.wire = WireParts(length: lengthFramed, early: earlyFramed, useMemoryFile: useMemoryFile, allocator: allocator)
    }

    /// The bytes a client of this framing is sent for this frame.
    public func part(for framing: StreamFraming) -> ByteBuffer {
        switch framing {
        case .length: lengthFramed
        case .early: earlyFramed
        }
    }
}

public import NIOCore
import Synchronization

/// One JPEG of a stream and what is known about it: nothing about any transport.
///
/// Each transport lays a frame out for its wire itself (HTTP multipart chunks and their memory
/// file, the WebSocket's tagged message), once per frame, when its first client asks
/// (`encoding(_:make:)`), and shares that layout with every other client: a frame nobody watches
/// over a transport costs that transport nothing.
public final class Frame: Sendable {
    /// The stream it belongs to.
    public let stream: String
    /// Increases by one per frame published (a repeat is the same frame; placeholders are 0).
    public let sequence: UInt64
    /// When the frame left the pipeline (the appsink callback), wall clock.
    public let capturedAt: WallClock.Instant
    public let width: Int
    public let height: Int
    /// A "NO SIGNAL" or "STARTING" picture standing in for the camera: never a snapshot.
    public let isPlaceholder: Bool
    /// The JPEG. Never mutated: a mutation would copy it.
    public let jpeg: ByteBuffer

    /// Each transport's layout, by type: a list, as a frame has one or two.
    private let encodings = Mutex<[(type: ObjectIdentifier, encoding: AnyObject)]>([])

    public init(stream: String, sequence: UInt64, capturedAt: WallClock.Instant, width: Int, height: Int, isPlaceholder: Bool = false, jpeg: ByteBuffer) {
        self.stream = stream
        self.sequence = sequence
        self.capturedAt = capturedAt
        self.width = width
        self.height = height
        self.isPlaceholder = isPlaceholder
        self.jpeg = jpeg
    }

    /// Copies the JPEG out of the pipeline's buffer: the only copy of it made for the frame itself.
    public convenience init(
        stream: String, sequence: UInt64, capturedAt: WallClock.Instant, width: Int, height: Int, isPlaceholder: Bool = false,
        copying bytes: UnsafeRawBufferPointer
    ) {
        var jpeg = ByteBufferAllocator().buffer(capacity: bytes.count)
        jpeg.writeBytes(bytes)
        self.init(stream: stream, sequence: sequence, capturedAt: capturedAt, width: width, height: height, isPlaceholder: isPlaceholder, jpeg: jpeg)
    }

    /// The frame laid out as `Encoding`: made by the first caller, shared with every later one.
    /// The first caller holds the frame's lock while it builds (other clients of the same
    /// transport wait for it rather than build it twice).
    /// Asked once per client and frame: a short list and an unchecked downcast (the type is the
    /// key), no dictionary and no dynamic cast.
    func encoding<Encoding: AnyObject & Sendable>(_ type: Encoding.Type, make: (Frame) -> Encoding) -> Encoding {
        let key = ObjectIdentifier(type)
        return encodings.withLock { encodings in
            if let existing = encodings.first(where: { $0.type == key }) { return unsafeDowncast(existing.encoding, to: Encoding.self) }
            let made = make(self)
            encodings.append((key, made))
            return made
        }
    }

    /// Whether a transport has laid this frame out (for tests: nothing is built unasked).
    func hasEncoding<Encoding: AnyObject>(_ type: Encoding.Type) -> Bool {
        encodings.withLock { $0.contains { $0.type == ObjectIdentifier(type) } }
    }
}

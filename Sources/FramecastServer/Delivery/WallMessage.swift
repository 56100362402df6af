import NIOCore

/// A frame as the wall's WebSocket sends it, built once per frame by the first session that sends
/// it (`Frame.encoding`): `[JPEG][name][u8 name length][f64 capture time][u32 JPEG length]`
/// (big-endian; read from the end, so the page can cut the JPEG out without parsing a header).
final class WallMessage: Sendable {
    let bytes: ByteBuffer

    init(_ frame: Frame) {
        let name = Array(frame.stream.utf8.prefix(255))
        var bytes = ByteBufferAllocator().buffer(capacity: frame.jpeg.readableBytes + name.count + 13)
        bytes.writeImmutableBuffer(frame.jpeg)
        bytes.writeBytes(name)
        bytes.writeInteger(UInt8(name.count))
        bytes.writeInteger(frame.capturedAt.secondsSinceEpoch.bitPattern, endianness: .big)
        bytes.writeInteger(UInt32(frame.jpeg.readableBytes), endianness: .big)
        self.bytes = bytes
    }
}

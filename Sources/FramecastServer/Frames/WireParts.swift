internal import CMemoryFile
import Glibc
public import NIOCore

/// One frame's parts exactly as an HTTP stream client receives them, built once per frame.
///
/// Hummingbird frames a streamed response body as HTTP/1.1 chunks, so each framing's part is laid
/// out as one whole chunk (`<hex length>\r\n<part>\r\n`): a connection writes it below the HTTP
/// encoder, as is, with one write per client. The bytes live in one buffer and, when enabled, in
/// one memory file too: connections send that file with `sendfile(2)`, so the kernel references
/// its pages instead of copying the frame into every socket (the copy path, `lengthChunk` and
/// `earlyChunk`, stays for systems without memfd and for `--no-sendfile`).
///
/// The file is never written again once built (pages in flight stay valid), and is closed when
/// the last reference to the frame goes.
public final class WireParts: Sendable {
    /// The length-framing part as one chunk: a slice of the shared buffer.
    public let lengthChunk: ByteBuffer
    /// The early-framing part as one chunk: a slice of the shared buffer.
    public let earlyChunk: ByteBuffer
    /// Where each chunk lies in `memoryFile`.
    public let lengthRange: Range<Int>
    public let earlyRange: Range<Int>
    /// A memfd holding the same bytes as the buffer, or nil (copy path). Owned by this object.
    public let memoryFile: CInt?

    init(length: ByteBuffer, early: ByteBuffer, useMemoryFile: Bool, allocator: ByteBufferAllocator) {
        var bytes = allocator.buffer(capacity: length.readableBytes + early.readableBytes + 32)
        func appendChunk(_ part: ByteBuffer) -> Range<Int> {
            let start = bytes.writerIndex
            bytes.writeString(String(part.readableBytes, radix: 16))
            bytes.writeStaticString("\r\n")
            bytes.writeImmutableBuffer(part)
            bytes.writeStaticString("\r\n")
            return start..<bytes.writerIndex
        }
        lengthRange = appendChunk(length)
        earlyRange = appendChunk(early)
        lengthChunk = bytes.getSlice(at: lengthRange.lowerBound, length: lengthRange.count)!
        earlyChunk = bytes.getSlice(at: earlyRange.lowerBound, length: earlyRange.count)!
        memoryFile = useMemoryFile ? Self.memoryFile(holding: bytes) : nil
    }

    deinit {
        if let memoryFile { close(memoryFile) }
    }

    /// The chunk a client of `framing` is sent.
    func chunk(for framing: StreamFraming) -> ByteBuffer {
        switch framing {
        case .length: lengthChunk
        case .early: earlyChunk
        }
    }

    /// Where the chunk of `framing` lies in the memory file.
    func range(for framing: StreamFraming) -> Range<Int> {
        switch framing {
        case .length: lengthRange
        case .early: earlyRange
        }
    }

    /// A new memory file holding `bytes`, or nil where memfd is missing (the copy path serves).
    private static func memoryFile(holding bytes: ByteBuffer) -> CInt? {
        let file = fc_memory_file_create("framecast-frame")
        guard file >= 0 else { return nil }
        let complete = bytes.withUnsafeReadableBytes { raw -> Bool in
            var offset = 0
            while offset < raw.count {
                let written = pwrite(file, raw.baseAddress! + offset, raw.count - offset, off_t(offset))
                if written < 0 {
                    if errno == EINTR { continue }
                    return false
                }
                offset += written
            }
            return true
        }
        guard complete else {
            close(file)
            return nil
        }
        return file
    }
}

internal import CFramecastLinux
import Glibc
import NIOCore
import Synchronization

/// One frame's part exactly as HTTP multipart clients receive it, in both framings, built once per
/// frame by the first such client (`Frame.encoding`) and shared by all of them.
///
/// Hummingbird frames a streamed response body as HTTP/1.1 chunks, so each framing's part is laid
/// out as one whole chunk (`<hex length>\r\n<part>\r\n`): a connection writes it below the HTTP
/// encoder, as is, with one write per client. The bytes live in one buffer and, when enabled, in
/// one memory file too: connections send that file with `sendfile(2)`, so the kernel references
/// its pages instead of copying the frame into every socket (the buffer serves systems without
/// memfd and `--no-sendfile`). The file is never written again once built (pages in flight stay
/// valid), and is closed when the last reference to the encoding goes.
final class MultipartEncoding: Sendable {
    private let bytes: ByteBuffer
    private let lengthRange: Range<Int>
    private let earlyRange: Range<Int>
    /// A memfd holding the same bytes as `bytes`, or nil (copy path). Owned by this object.
    let memoryFile: CInt?
    /// Each event loop's own descriptor of the memory file (see `file(for:)`).
    private let loopFiles = Mutex<[(loop: ObjectIdentifier, file: SharedFrameFile?)]>([])

    /// Lays `frame` out. `useMemoryFile`: also write it into a memory file for `sendfile(2)`.
    init(_ frame: Frame, useMemoryFile: Bool) {
        let marker = frame.isPlaceholder ? "X-Placeholder: no-signal\r\n" : ""
        let headers = "Content-Type: image/jpeg\r\nContent-Length: \(frame.jpeg.readableBytes)\r\nX-Timestamp: \(frame.capturedAt.headerValue)\r\n\(marker)\r\n"
        let jpegLength = frame.jpeg.readableBytes
        let boundaryLine = MultipartFraming.boundaryLine
        let headerBlock = MultipartFraming.partHeaderBlock
        var bytes = ByteBufferAllocator().buffer(capacity: 2 * jpegLength + headers.utf8.count + 2 * boundaryLine.count + headerBlock.count + 32)
        func appendChunk(length: Int, _ write: (inout ByteBuffer) -> Void) -> Range<Int> {
            let start = bytes.writerIndex
            bytes.writeString(String(length, radix: 16))
            bytes.writeStaticString("\r\n")
            write(&bytes)
            bytes.writeStaticString("\r\n")
            return start..<bytes.writerIndex
        }
        lengthRange = appendChunk(length: headers.utf8.count + jpegLength + boundaryLine.count) { bytes in
            bytes.writeString(headers)
            bytes.writeImmutableBuffer(frame.jpeg)
            bytes.writeBytes(boundaryLine)
        }
        earlyRange = appendChunk(length: jpegLength + boundaryLine.count + headerBlock.count) { bytes in
            bytes.writeImmutableBuffer(frame.jpeg)
            bytes.writeBytes(boundaryLine)
            bytes.writeBytes(headerBlock)
        }
        self.bytes = bytes
        memoryFile = useMemoryFile ? Self.memoryFile(holding: bytes) : nil
    }

    deinit {
        if let memoryFile { close(memoryFile) }
    }

    /// The chunk a client of `framing` is sent: a slice of the shared buffer.
    func chunk(for framing: StreamFraming) -> ByteBuffer {
        let range = range(for: framing)
        return bytes.getSlice(at: bytes.readerIndex + range.lowerBound, length: range.count)!
    }

    /// Where the chunk of `framing` lies in the memory file.
    func range(for framing: StreamFraming) -> Range<Int> {
        switch framing {
        case .length: lengthRange
        case .early: earlyRange
        }
    }

    /// `eventLoop`'s handle on the memory file, opened once per frame and loop, or nil (copy
    /// path). Each loop has its own descriptor (a dup): NIO lets one thread at a time use a file
    /// handle, and the loops send the same frame at the same moment.
    func file(for eventLoop: any EventLoop) -> SharedFrameFile? {
        guard let memoryFile else { return nil }
        let key = ObjectIdentifier(eventLoop)
        return loopFiles.withLock { files in
            if let found = files.first(where: { $0.loop == key }) { return found.file }
            let descriptor = dup(memoryFile)
            let file = descriptor >= 0 ? SharedFrameFile(descriptor: descriptor) : nil
            files.append((key, file))
            return file
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

/// A frame as one event loop's multipart clients write it: both framings' chunks, ready to hand to
/// the channel, and what a completed write reports. Made once per frame and loop
/// (`LoopPublication.multipart`): a client's write then references only objects of its own loop.
final class MultipartLoopPart {
    let sequence: UInt64
    let capturedAt: WallClock.Instant
    let isPlaceholder: Bool
    private let length: IOData
    private let early: IOData
    /// The loop's descriptor of the memory file, which the file regions use: kept open by this
    /// object (see `SharedFrameFile`) for as long as a write may use it.
    private let file: SharedFrameFile?

    init(_ frame: Frame, useMemoryFile: Bool, eventLoop: any EventLoop) {
        let encoding = frame.encoding(MultipartEncoding.self) { MultipartEncoding($0, useMemoryFile: useMemoryFile) }
        func data(_ framing: StreamFraming, _ file: SharedFrameFile?) -> IOData {
            let range = encoding.range(for: framing)
            if let file {
                return .fileRegion(FileRegion(fileHandle: file.handle, readerIndex: range.lowerBound, endIndex: range.upperBound))
            }
            return .byteBuffer(encoding.chunk(for: framing))
        }
        let file = encoding.file(for: eventLoop)
        self.file = file
        length = data(.length, file)
        early = data(.early, file)
        sequence = frame.sequence
        capturedAt = frame.capturedAt
        isPlaceholder = frame.isPlaceholder
    }

    /// What a client of `framing` is sent.
    func data(for framing: StreamFraming) -> IOData {
        switch framing {
        case .length: length
        case .early: early
        }
    }
}

/// A frame's memory file as one event loop's connections send it. Closed when the last write
/// that uses it has completed (each in-flight write holds a reference) and the frame is gone.
final class SharedFrameFile: @unchecked Sendable {
    // Sendable because the handle is only used on the loop it was opened for (see
    // `MultipartEncoding.file(for:)`); the class itself only closes it.
    let handle: NIOFileHandle

    init(descriptor: CInt) {
        handle = NIOFileHandle(_deprecatedTakingOwnershipOfDescriptor: descriptor)
    }

    deinit {
        try? handle.close()
    }
}

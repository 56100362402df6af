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
    /// Where each framing's part lies inside its chunk (without the chunk's size line and end):
    /// what an HTTP/2 stream sends as DATA.
    private let lengthPartRange: Range<Int>
    private let earlyPartRange: Range<Int>
    private let memoryFileAllowed: Bool
    /// The memory file (made by the first connection that sends with `sendfile`) and each event
    /// loop's own descriptor of it (see `file(for:)`).
    private let files = Mutex<Files>(Files())

    private struct Files {
        /// Not yet asked for, made (a memfd owned by this object), or unavailable here.
        var memoryFile: MemoryFile = .notMade
        var loops: [(loop: ObjectIdentifier, file: SharedFrameFile?)] = []
    }

    private enum MemoryFile {
        case notMade
        case made(CInt)
        case unavailable
    }

    /// Lays `frame` out. `useMemoryFile`: connections that send with `sendfile(2)` may ask for a
    /// memory file of it (made at the first such request: a frame sent only over TLS or HTTP/2,
    /// which cannot use it, never has one).
    init(_ frame: Frame, useMemoryFile: Bool) {
        let marker = frame.isPlaceholder ? "X-Placeholder: no-signal\r\n" : ""
        let headers = "Content-Type: image/jpeg\r\nContent-Length: \(frame.jpeg.readableBytes)\r\nX-Timestamp: \(frame.capturedAt.headerValue)\r\n\(marker)\r\n"
        let jpegLength = frame.jpeg.readableBytes
        let boundaryLine = MultipartFraming.boundaryLine
        let headerBlock = MultipartFraming.partHeaderBlock
        var bytes = ByteBufferAllocator().buffer(capacity: 2 * jpegLength + headers.utf8.count + 2 * boundaryLine.count + headerBlock.count + 32)
        func appendChunk(length: Int, _ write: (inout ByteBuffer) -> Void) -> (chunk: Range<Int>, part: Range<Int>) {
            let start = bytes.writerIndex
            bytes.writeString(String(length, radix: 16))
            bytes.writeStaticString("\r\n")
            let partStart = bytes.writerIndex
            write(&bytes)
            let partEnd = bytes.writerIndex
            bytes.writeStaticString("\r\n")
            return (start..<bytes.writerIndex, partStart..<partEnd)
        }
        (lengthRange, lengthPartRange) = appendChunk(length: headers.utf8.count + jpegLength + boundaryLine.count) { bytes in
            bytes.writeString(headers)
            bytes.writeImmutableBuffer(frame.jpeg)
            bytes.writeBytes(boundaryLine)
        }
        (earlyRange, earlyPartRange) = appendChunk(length: jpegLength + boundaryLine.count + headerBlock.count) { bytes in
            bytes.writeImmutableBuffer(frame.jpeg)
            bytes.writeBytes(boundaryLine)
            bytes.writeBytes(headerBlock)
        }
        self.bytes = bytes
        memoryFileAllowed = useMemoryFile
    }

    deinit {
        if case .made(let file) = files.withLock({ $0.memoryFile }) { close(file) }
    }

    /// The chunk a client of `framing` is sent over HTTP/1.1: a slice of the shared buffer.
    func chunk(for framing: StreamFraming) -> ByteBuffer {
        slice(range(for: framing))
    }

    /// The part alone, without HTTP/1.1's chunk framing (HTTP/2 frames it itself).
    func part(for framing: StreamFraming) -> ByteBuffer {
        switch framing {
        case .length: slice(lengthPartRange)
        case .early: slice(earlyPartRange)
        }
    }

    private func slice(_ range: Range<Int>) -> ByteBuffer {
        bytes.getSlice(at: bytes.readerIndex + range.lowerBound, length: range.count)!
    }

    /// Where the chunk of `framing` lies in the memory file.
    func range(for framing: StreamFraming) -> Range<Int> {
        switch framing {
        case .length: lengthRange
        case .early: earlyRange
        }
    }

    /// The memory file holding the chunks, made now if it was not yet; nil on the copy path or
    /// where memfd is missing. Owned by this object.
    var memoryFile: CInt? {
        guard memoryFileAllowed else { return nil }
        return files.withLock { files in makeMemoryFile(&files) }
    }

    private func makeMemoryFile(_ files: inout Files) -> CInt? {
        switch files.memoryFile {
        case .made(let file): return file
        case .unavailable: return nil
        case .notMade:
            if let file = Self.memoryFile(holding: bytes) {
                files.memoryFile = .made(file)
                return file
            }
            files.memoryFile = .unavailable
            return nil
        }
    }

    /// `eventLoop`'s handle on the memory file, opened once per frame and loop, or nil (copy
    /// path). Each loop has its own descriptor (a dup): NIO lets one thread at a time use a file
    /// handle, and the loops send the same frame at the same moment.
    func file(for eventLoop: any EventLoop) -> SharedFrameFile? {
        guard memoryFileAllowed else { return nil }
        let key = ObjectIdentifier(eventLoop)
        return files.withLock { files in
            if let found = files.loops.first(where: { $0.loop == key }) { return found.file }
            guard let memoryFile = makeMemoryFile(&files) else { return nil }
            let descriptor = dup(memoryFile)
            let file = descriptor >= 0 ? SharedFrameFile(descriptor: descriptor) : nil
            files.loops.append((key, file))
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

/// How a multipart connection puts a part on the wire.
enum MultipartWire: Sendable, Equatable {
    /// HTTP/1.1 chunks, from the memory file with `sendfile(2)` where there is one.
    case http1Sendfile
    /// HTTP/1.1 chunks from memory (`--no-sendfile`, and under TLS, which encrypts every byte).
    case http1Copy
    /// HTTP/2 DATA frames on the response's own stream (the part without chunk framing).
    case http2
}

/// A frame as one event loop's multipart clients write it, in each framing and wire form, ready to
/// hand to the channel, and what a completed write reports. Made once per frame and loop
/// (`LoopPublication.multipart`): a client's write then references only objects of its own loop.
/// Used only on that loop.
final class MultipartLoopPart {
    let sequence: UInt64
    let capturedAt: WallClock.Instant
    let isPlaceholder: Bool
    private let encoding: MultipartEncoding
    private let eventLoop: any EventLoop
    private var chunks = PerFraming<IOData>()
    private var parts = PerFraming<ByteBuffer>()
    private var fileRegions = PerFraming<IOData>()
    /// The loop's descriptor of the memory file, once a `sendfile` client asked for it: kept open
    /// by this object (see `SharedFrameFile`) for as long as a write may use it.
    private var file: SharedFrameFile?
    private var fileAsked = false

    init(_ frame: Frame, useMemoryFile: Bool, eventLoop: any EventLoop) {
        encoding = frame.encoding(MultipartEncoding.self) { MultipartEncoding($0, useMemoryFile: useMemoryFile) }
        self.eventLoop = eventLoop
        sequence = frame.sequence
        capturedAt = frame.capturedAt
        isPlaceholder = frame.isPlaceholder
    }

    /// What a client of `framing` is sent over `wire`: each form made once, by its first client.
    func data(for framing: StreamFraming, wire: MultipartWire) -> IOData {
        switch wire {
        case .http1Sendfile:
            if let region = fileRegions[framing] { return region }
            if !fileAsked {
                fileAsked = true
                file = encoding.file(for: eventLoop)
            }
            guard let file else { return chunk(framing) }
            let range = encoding.range(for: framing)
            let region = IOData.fileRegion(FileRegion(fileHandle: file.handle, readerIndex: range.lowerBound, endIndex: range.upperBound))
            fileRegions[framing] = region
            return region
        case .http1Copy:
            return chunk(framing)
        case .http2:
            return .byteBuffer(part(framing))
        }
    }

    /// The part without HTTP/1.1 chunk framing.
    func part(_ framing: StreamFraming) -> ByteBuffer {
        if let part = parts[framing] { return part }
        let part = encoding.part(for: framing)
        parts[framing] = part
        return part
    }

    private func chunk(_ framing: StreamFraming) -> IOData {
        if let chunk = chunks[framing] { return chunk }
        let chunk = IOData.byteBuffer(encoding.chunk(for: framing))
        chunks[framing] = chunk
        return chunk
    }
}

/// One value per framing, found without hashing (looked up on every write).
private struct PerFraming<Value> {
    private var length: Value?
    private var early: Value?

    subscript(framing: StreamFraming) -> Value? {
        get {
            switch framing {
            case .length: length
            case .early: early
            }
        }
        set {
            switch framing {
            case .length: length = newValue
            case .early: early = newValue
            }
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

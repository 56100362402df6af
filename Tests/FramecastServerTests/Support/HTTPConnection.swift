import Foundation
import NIOCore
import NIOPosix

/// A real HTTP/1.1 client on a loopback TCP socket that reads the response incrementally, so an
/// endless multipart stream can be read part by part. No HTTP library in between: the tests see
/// the bytes exactly as the server wrote them (after removing chunked transfer coding).
struct ResponseHead {
    var status: Int
    var headers: [(name: String, value: String)]

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

enum HTTPTestError: Error, CustomStringConvertible {
    case closed(String)
    case malformed(String)
    case timedOut(String)

    var description: String {
        switch self {
        case .closed(let what): "connection closed while \(what)"
        case .malformed(let what): "malformed response: \(what)"
        case .timedOut(let what): "timed out: \(what)"
        }
    }
}

/// Opens a connection, sends one request, and hands the body closure a reader positioned after
/// the response head. The connection closes when the closure returns.
func withHTTPRequest<T: Sendable>(
    port: Int,
    path: String,
    method: String = "GET",
    headers: [String: String] = ["User-Agent": "framecast-tests"],
    rawRequest: String? = nil,
    slowLink: Bool = false,
    _ body: (inout ResponseReader) async throws -> T
) async throws -> T {
    var bootstrap = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
    if slowLink {
        // A slow link holds little in flight: small kernel and NIO buffers on the client side, so
        // what the client reads late was queued by the server, not by us.
        bootstrap = bootstrap
            .channelOption(ChannelOptions.socketOption(.so_rcvbuf), value: 16 * 1024)
            .channelOption(ChannelOptions.recvAllocator, value: FixedSizeRecvByteBufferAllocator(capacity: 16 * 1024))
    }
    let channel = try await bootstrap
        .connect(host: "127.0.0.1", port: port) { channel in
            channel.eventLoop.makeCompletedFuture {
                try NIOAsyncChannel<ByteBuffer, ByteBuffer>(
                    wrappingChannelSynchronously: channel,
                    configuration: .init(backPressureStrategy: slowLink ? .init(lowWatermark: 1, highWatermark: 2) : .init(lowWatermark: 2, highWatermark: 10)))
            }
        }
    return try await channel.executeThenClose { inbound, outbound in
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        try await outbound.write(ByteBuffer(string: rawRequest ?? request))
        var reader = ResponseReader(inbound.makeAsyncIterator(), outbound: outbound)
        try await reader.readHead()
        return try await body(&reader)
    }
}

/// Reads a response: its head, then the body bytes (chunked coding removed) on demand.
struct ResponseReader {
    private var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
    private let outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>
    private var wire: [UInt8] = []
    private var wireStart = 0
    private(set) var body: [UInt8] = []
    private var bodyStart = 0
    private(set) var head = ResponseHead(status: 0, headers: [])
    private var chunked = false
    private var contentLength: Int?
    private var chunkRemaining = 0
    private var chunkState = ChunkState.size
    private(set) var bodyEnded = false
    /// Every body byte consumed so far, when `recording` is on (to check exact layouts).
    var recording = false
    /// When set, bytes are taken from the socket no faster than this (a slow link).
    var bytesPerSecond: Double?
    private var rateStart: ContinuousClock.Instant?
    private var rateBytes = 0
    private(set) var transcript: [UInt8] = []

    private enum ChunkState { case size, data, dataEnd }

    init(_ iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator, outbound: NIOAsyncChannelOutboundWriter<ByteBuffer>) {
        self.iterator = iterator
        self.outbound = outbound
    }

    /// Sends more bytes on the connection (a WebSocket frame after an upgrade).
    func send(_ bytes: [UInt8]) async throws {
        try await outbound.write(ByteBuffer(bytes: bytes))
    }

    // MARK: Socket

    private mutating func receive() async throws -> Bool {
        guard var buffer = try await iterator.next() else { return false }
        if let bytesPerSecond {
            // Pace the reads: sleeping here leaves the rest in the kernel, as a slow link would.
            let start = rateStart ?? .now
            rateStart = start
            rateBytes += buffer.readableBytes
            let due = start + .milliseconds(Int(Double(rateBytes) / bytesPerSecond * 1000))
            if due > .now { try await Task.sleep(until: due) }
        }
        if wireStart > 65536 {
            wire.removeFirst(wireStart)
            wireStart = 0
        }
        wire.append(contentsOf: buffer.readBytes(length: buffer.readableBytes) ?? [])
        return true
    }

    mutating func readHead() async throws {
        while true {
            if let end = find([13, 10, 13, 10], in: wire, from: wireStart) {
                let text = String(decoding: wire[wireStart..<end], as: UTF8.self)
                wireStart = end + 4
                var lines = text.components(separatedBy: "\r\n")
                let statusLine = lines.removeFirst().split(separator: " ")
                guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
                    throw HTTPTestError.malformed("status line \(statusLine)")
                }
                head.status = status
                for line in lines {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    head.headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
                }
                chunked = head.header("transfer-encoding")?.lowercased() == "chunked"
                contentLength = head.header("content-length").flatMap { Int($0) }
                decodeBody()
                return
            }
            guard try await receive() else { throw HTTPTestError.closed("reading the response head") }
        }
    }

    // MARK: Body

    private mutating func decodeBody() {
        if !chunked {
            body.append(contentsOf: wire[wireStart...])
            wireStart = wire.count
            if let contentLength, body.count >= contentLength { bodyEnded = true }
            return
        }
        while true {
            switch chunkState {
            case .size:
                guard let end = find([13, 10], in: wire, from: wireStart) else { return }
                let text = String(decoding: wire[wireStart..<end], as: UTF8.self)
                wireStart = end + 2
                let size = Int(text.split(separator: ";").first ?? "", radix: 16) ?? 0
                if size == 0 {
                    bodyEnded = true
                    return
                }
                chunkRemaining = size
                chunkState = .data
            case .data:
                let take = min(chunkRemaining, wire.count - wireStart)
                if take == 0 { return }
                body.append(contentsOf: wire[wireStart..<(wireStart + take)])
                wireStart += take
                chunkRemaining -= take
                if chunkRemaining == 0 { chunkState = .dataEnd }
            case .dataEnd:
                guard wire.count - wireStart >= 2 else { return }
                wireStart += 2
                chunkState = .size
            }
        }
    }

    /// Ensures at least `count` unread body bytes; false when the body ended first.
    private mutating func ensure(_ count: Int) async throws -> Bool {
        while body.count - bodyStart < count {
            if bodyEnded { return false }
            if !(try await receive()) {
                bodyEnded = true
                return body.count - bodyStart >= count
            }
            decodeBody()
        }
        return true
    }

    private mutating func consume(_ count: Int) -> [UInt8] {
        let bytes = Array(body[bodyStart..<(bodyStart + count)])
        bodyStart += count
        if recording { transcript.append(contentsOf: bytes) }
        if bodyStart > 1 << 20 {
            body.removeFirst(bodyStart)
            bodyStart = 0
        }
        return bytes
    }

    mutating func read(exactly count: Int) async throws -> [UInt8] {
        guard try await ensure(count) else { throw HTTPTestError.closed("reading \(count) body bytes") }
        return consume(count)
    }

    /// Reads up to (not including) `delimiter`, leaving the delimiter unread.
    mutating func read(until delimiter: [UInt8]) async throws -> [UInt8] {
        var searchFrom = bodyStart
        while true {
            if let index = find(delimiter, in: body, from: searchFrom) {
                return consume(index - bodyStart)
            }
            searchFrom = max(bodyStart, body.count - delimiter.count + 1)
            guard try await ensure(body.count - bodyStart + 1) else {
                throw HTTPTestError.closed("looking for \(String(decoding: delimiter, as: UTF8.self).debugDescription)")
            }
        }
    }

    mutating func readLine() async throws -> String {
        let line = try await read(until: [13, 10])
        _ = consume(2)
        return String(decoding: line, as: UTF8.self)
    }

    /// The whole remaining body (for bodies that end).
    mutating func readToEnd() async throws -> [UInt8] {
        while !bodyEnded {
            if !(try await receive()) { bodyEnded = true } else { decodeBody() }
        }
        return consume(body.count - bodyStart)
    }
}

func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
    guard needle.count > 0, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
    let first = needle[0]
    var index = start
    let last = haystack.count - needle.count
    while index <= last {
        if haystack[index] == first {
            var match = true
            for offset in 1..<needle.count where haystack[index + offset] != needle[offset] {
                match = false
                break
            }
            if match { return index }
        }
        index += 1
    }
    return nil
}

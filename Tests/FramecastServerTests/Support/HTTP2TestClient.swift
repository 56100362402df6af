import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix
import NIOSSL

/// A real HTTP/2 client over TLS (swift-nio-http2, ALPN), which can hold several streams on one
/// connection and read each at its own pace: a stream opened with `autoRead: false` takes what
/// the server sent only when `read()` is called, so its flow-control window stays shut meanwhile,
/// as a slow viewer's would.
final class HTTP2TestClient: Sendable {
    let channel: any Channel
    private let multiplexer: NIOLoopBound<NIOHTTP2Handler.StreamMultiplexer>

    private init(channel: any Channel, multiplexer: NIOLoopBound<NIOHTTP2Handler.StreamMultiplexer>) {
        self.channel = channel
        self.multiplexer = multiplexer
    }

    /// Connects to 127.0.0.1:`port` offering only h2. `initialWindow`: each stream's receive
    /// window (small: a stream that stops reading stalls the server's writes soon).
    static func connect(port: Int, initialWindow: Int = 65535) async throws -> HTTP2TestClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .none
        tls.applicationProtocols = ["h2"]
        let context = try NIOSSLContext(configuration: tls)
        let promise = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: NIOLoopBound<NIOHTTP2Handler.StreamMultiplexer>.self)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: context, serverHostname: "localhost"))
                    var connection = NIOHTTP2Handler.ConnectionConfiguration()
                    connection.initialSettings = [
                        HTTP2Setting(parameter: .initialWindowSize, value: initialWindow),
                        HTTP2Setting(parameter: .maxFrameSize, value: 1 << 14),
                    ]
                    // Left at its default: NIO moves each stream's target by the change of the
                    // initial window setting once the server acknowledges it.
                    let stream = NIOHTTP2Handler.StreamConfiguration()
                    let multiplexer = try channel.pipeline.syncOperations.configureHTTP2Pipeline(
                        mode: .client, connectionConfiguration: connection, streamConfiguration: stream
                    ) { $0.eventLoop.makeSucceededVoidFuture() }
                    promise.succeed(NIOLoopBound(multiplexer, eventLoop: channel.eventLoop))
                }
            }
            .connect(host: "127.0.0.1", port: port).get()
        return HTTP2TestClient(channel: channel, multiplexer: try await promise.futureResult.get())
    }

    /// Opens a stream with a GET of `path` (`authority`: the `:authority` sent).
    func get(_ path: String, authority: String = "localhost", autoRead: Bool = true, headers: [(String, String)] = []) async throws -> HTTP2TestStream {
        let collector = HTTP2TestStream()
        let multiplexer = self.multiplexer
        let stream = try await channel.eventLoop.flatSubmit {
            multiplexer.value.createStreamChannel { stream in
                stream.eventLoop.makeCompletedFuture {
                    try stream.syncOptions?.setOption(ChannelOptions.autoRead, value: autoRead)
                    try stream.pipeline.syncOperations.addHandler(HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: .https))
                    try stream.pipeline.syncOperations.addHandler(collector)
                }
            }
        }.get()
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: path)
        head.headers.add(name: "host", value: authority)
        head.headers.add(name: "user-agent", value: "framecast-tests-h2")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        stream.write(HTTPClientRequestPart.head(head), promise: nil)
        try await stream.writeAndFlush(HTTPClientRequestPart.end(nil)).get()
        collector.channel = stream
        return collector
    }

    func close() async {
        try? await channel.close()
    }
}

/// One request's response on an HTTP/2 stream: its head, and the multipart parts as they arrive
/// (each with the capture time it carries and the time it arrived whole).
final class HTTP2TestStream: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPClientResponsePart

    struct Part: Sendable {
        let timestamp: Double?
        let arrived: Double
        let length: Int
    }

    private let lock = NIOLock()
    private var _status: Int?
    private var _headers: [(String, String)] = []
    private var _parts: [Part] = []
    private var _body: [UInt8] = []
    private var _ended = false
    private var pending: [UInt8] = []
    var channel: (any Channel)?

    var status: Int? { lock.withLock { _status } }
    var parts: [Part] { lock.withLock { _parts } }
    var ended: Bool { lock.withLock { _ended } }
    var body: [UInt8] { lock.withLock { _body } }
    func header(_ name: String) -> String? { lock.withLock { _headers.first { $0.0.lowercased() == name.lowercased() }?.1 } }

    /// Takes what the server sent since the last read (an `autoRead: false` stream).
    func read() {
        guard let channel else { return }
        channel.eventLoop.execute { channel.read() }
    }

    func reset() {
        channel?.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            lock.withLock {
                _status = Int(head.status.code)
                _headers = head.headers.map { ($0.name, $0.value) }
            }
        case .body(let buffer):
            let bytes = Array(buffer.readableBytesView)
            lock.withLock {
                if _body.count < 1 << 20 { _body.append(contentsOf: bytes) }
                pending.append(contentsOf: bytes)
                parsePending()
            }
        case .end:
            lock.withLock { _ended = true }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        lock.withLock { _ended = true }
        context.fireChannelInactive()
    }

    /// Length-framed parts: headers up to a blank line, then Content-Length bytes.
    private func parsePending() {
        let marker = Array("Content-Type: image/jpeg\r\n".utf8)
        let blank = Array("\r\n\r\n".utf8)
        while let start = pending.firstRange(of: marker)?.lowerBound,
            let end = pending[start...].firstRange(of: blank)?.upperBound
        {
            let headerText = String(decoding: pending[start..<end], as: UTF8.self)
            var length = 0
            var timestamp: Double?
            for line in headerText.split(separator: "\r\n") {
                let pieces = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard pieces.count == 2 else { continue }
                if pieces[0].lowercased() == "content-length" { length = Int(pieces[1]) ?? 0 }
                if pieces[0].lowercased() == "x-timestamp" { timestamp = Double(pieces[1]) }
            }
            guard pending.count >= end + length else { return }
            _parts.append(Part(timestamp: timestamp, arrived: Date().timeIntervalSince1970, length: length))
            pending.removeSubrange(0..<(end + length))
        }
    }
}

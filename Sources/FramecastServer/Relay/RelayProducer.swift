import Foundation
import MediaPipeline
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// One run of a relay stream: one HTTP connection to the origin, its multipart parts published as
/// they arrive, byte for byte, with the origin's capture time (`X-Timestamp`) when it sends one.
/// A refused connection, an error answer, a broken part or the origin going away is a bus error:
/// the stream's lifecycle retries, as it restarts a failed pipeline.
final class RelayProducer: FrameProducer, @unchecked Sendable {
    // @unchecked: `channel` and `stopped` live under `lock`; the rest is immutable.
    private let source: RelaySource
    private let callbacks: ProducerCallbacks
    private let monitor: RelayMonitor
    private let lock = NSLock()
    private var channel: (any Channel)?
    private var stopped = false

    init(source: RelaySource, callbacks: ProducerCallbacks, monitor: RelayMonitor) {
        self.source = source
        self.callbacks = callbacks
        self.monitor = monitor
    }

    func play() throws(PipelineError) {
        monitor.connecting()
        let source = self.source
        let handler = RelayResponseHandler(producer: self)
        var tls: NIOSSLContext?
        if source.secure {
            do {
                tls = try NIOSSLContext(configuration: .makeClientConfiguration())
            } catch {
                throw .relay("TLS: \(error)")
            }
        }
        let serverName = source.host
        ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: serverName.first?.isNumber == true ? nil : serverName))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(handler)
                }
            }
            .connect(host: source.host, port: source.port)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    let keep = self.lock.withLock { () -> Bool in
                        guard !self.stopped else { return false }
                        self.channel = channel
                        return true
                    }
                    guard keep else {
                        channel.close(promise: nil)
                        return
                    }
                    source.sendRequest(on: channel, headers: [("Accept", "multipart/x-mixed-replace, image/jpeg")])
                case .failure(let error):
                    self.failed("cannot connect to \(source.hostHeader): \(error)")
                }
            }
    }

    func stop() {
        let channel = lock.withLock { () -> (any Channel)? in
            stopped = true
            defer { self.channel = nil }
            return self.channel
        }
        monitor.stopped()
        // On the stream's queue, never an event loop: waiting is allowed and bounds the run.
        try? channel?.close().wait()
    }

    private var isStopped: Bool { lock.withLock { stopped } }

    fileprivate func failed(_ reason: String) {
        guard !isStopped else { return }
        monitor.down(reason)
        callbacks.onBusEvent(.error(PipelineFault(element: "relay", message: "\(source.shown): \(reason)", debug: nil)))
    }

    fileprivate func connected() {
        monitor.connected()
    }

    fileprivate func ended() {
        guard !isStopped else { return }
        monitor.down("the origin ended the stream")
        callbacks.onBusEvent(.endOfStream)
    }

    fileprivate func publish(_ part: MultipartParser.Part) {
        guard !isStopped else { return }
        let capturedAt = part.headers["x-timestamp"].flatMap(Double.init).flatMap { $0.isFinite && $0 > 0 ? $0 : nil }
        // The origin's own NO SIGNAL (its camera failed; it is up): passed on as NO SIGNAL, so
        // that this edge's viewers see it marked and a snapshot never returns it as a picture.
        let placeholder = part.headers["x-placeholder"] != nil
        if let capturedAt, !placeholder { monitor.arrived(lateBy: Date().timeIntervalSince1970 - capturedAt) }
        part.body.withUnsafeReadableBytes { bytes in
            // The size comes from the JPEG's own header (the supervisor reads it).
            let format = SampleFormat(
                width: 0, height: 0, presentationTimestamp: capturedAt.map { UInt64(($0 * 1_000_000).rounded()) * 1000 }, isPlaceholder: placeholder)
            callbacks.onSample(bytes, format)
        }
    }
}

/// Reads the origin's answer: a multipart stream of JPEGs, or a failure.
private final class RelayResponseHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let producer: RelayProducer
    private var parser: MultipartParser?
    private var done = false

    init(producer: RelayProducer) {
        self.producer = producer
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            guard head.status == .ok else { return fail(context, "the origin answered \(head.status.code) \(head.status.reasonPhrase)") }
            guard let boundary = head.headers.first(name: "content-type").flatMap(MultipartParser.boundary(ofContentType:)) else {
                return fail(context, "the origin's answer is not a multipart stream (\(head.headers.first(name: "content-type") ?? "no Content-Type"))")
            }
            parser = MultipartParser(boundary: boundary)
            producer.connected()
        case .body(let bytes):
            guard var parser else { return }
            do {
                for part in try parser.append(bytes) where part.body.readableBytes > 0 {
                    producer.publish(part)
                }
                self.parser = parser
            } catch {
                fail(context, "\(error)")
            }
        case .end:
            done = true
            producer.ended()
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            producer.failed("the connection to the origin closed")
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(context, "\(error)")
    }

    private func fail(_ context: ChannelHandlerContext, _ reason: String) {
        guard !done else { return }
        done = true
        producer.failed(reason)
        context.close(promise: nil)
    }
}

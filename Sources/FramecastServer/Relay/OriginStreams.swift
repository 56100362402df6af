import Foundation
import MediaPipeline
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// `--relay-all URL`: the streams an origin Framecast serves, read from its `/api/streams`.
public enum OriginStreams {
    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    /// The relay definitions of every stream of the origin at `base` (`http://origin:8080`, with
    /// credentials or not): `NAME=relay:BASE/stream/NAME`.
    public static func definitions(base: String, timeout: Double = 5) async throws(Failure) -> [StreamDefinition] {
        let trimmed = base.hasSuffix("/") ? String(base.dropLast()) : base
        let names = try await names(base: trimmed, timeout: timeout)
        return names.map { StreamDefinition(name: $0, pipeline: "\(RelaySource.prefix)\(trimmed)/stream/\($0)") }
    }

    /// The names in the origin's `/api/streams`, valid stream names only.
    static func names(base: String, timeout: Double) async throws(Failure) -> [String] {
        let source: RelaySource
        do {
            source = try RelaySource(description: RelaySource.prefix + base + "/api/streams")
        } catch {
            throw Failure(description: "--relay-all \(CredentialMask.mask(base)): \(error.description)")
        }
        let body: [UInt8]
        do {
            body = try await get(source, timeout: timeout)
        } catch let failure as Failure {
            throw Failure(description: "--relay-all \(source.shown): \(failure.description)")
        } catch {
            throw Failure(description: "--relay-all \(source.shown): \(error)")
        }
        guard let json = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any], let streams = json["streams"] as? [[String: Any]] else {
            throw Failure(description: "--relay-all \(source.shown): /api/streams did not answer a Framecast's stream list")
        }
        return streams.compactMap { $0["name"] as? String }.filter(StreamName.isValid)
    }

    /// One GET, its body (at most 4 MB) when the status is 200.
    private static func get(_ source: RelaySource, timeout: Double) async throws -> [UInt8] {
        let tls = source.secure ? try NIOSSLContext(configuration: .makeClientConfiguration()) : nil
        let collector = BodyCollector(promise: MultiThreadedEventLoopGroup.singleton.next().makePromise())
        let connecting = ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.milliseconds(timeout.saturatingMilliseconds))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: source.host.first?.isNumber == true ? nil : source.host))
                    }
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(collector)
                }
            }
            .connect(host: source.host, port: source.port)
        let channel: any Channel
        do {
            channel = try await connecting.get()
        } catch {
            // The collector never joined a channel: its promise must still be completed.
            collector.promise.fail(error)
            throw error
        }
        source.sendRequest(on: channel, headers: [("Connection", "close")])
        let timer = channel.eventLoop.scheduleTask(in: .milliseconds(timeout.saturatingMilliseconds)) {
            collector.fail(Failure(description: "no answer within \(timeout.formatted()) s"), channel: channel)
        }
        defer {
            timer.cancel()
            channel.close(promise: nil)
        }
        return try await collector.promise.futureResult.get()
    }
}

/// Collects one response's body.
private final class BodyCollector: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked: used on its channel's event loop only (the timer runs there too).
    typealias InboundIn = HTTPClientResponsePart

    let promise: EventLoopPromise<[UInt8]>
    private var body: [UInt8] = []
    private var status: HTTPResponseStatus?
    private var done = false

    init(promise: EventLoopPromise<[UInt8]>) {
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = head.status
        case .body(let bytes):
            guard body.count + bytes.readableBytes <= 4 << 20 else {
                return fail(OriginStreams.Failure(description: "/api/streams answered more than 4 MB"), channel: context.channel)
            }
            body.append(contentsOf: bytes.readableBytesView)
        case .end:
            guard !done else { return }
            done = true
            if status == .ok {
                promise.succeed(body)
            } else {
                promise.fail(OriginStreams.Failure(description: "/api/streams answered \(status.map { "\($0.code) \($0.reasonPhrase)" } ?? "nothing")"))
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(OriginStreams.Failure(description: "the connection closed before an answer"), channel: context.channel)
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(error, channel: context.channel)
    }

    func fail(_ error: any Error, channel: any Channel) {
        guard !done else { return }
        done = true
        promise.fail(error)
        channel.close(promise: nil)
    }
}

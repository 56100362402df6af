import Foundation
import NIOCore
import NIOHTTP1

/// Every request's head passes here first, right after the HTTP decoder and before the WebSocket
/// upgrade and Hummingbird: one place that refuses what no route should see, and that follows
/// each request and response so the connection's deadline (`RequestDeadlineHandler`) covers the
/// whole request.
///
/// Refused, answered at once with a JSON reason and closed:
/// - a path with a control character, raw or percent-encoded (400),
/// - a `Host` the server does not answer to (421; DNS rebinding, see `HostPolicy`),
/// - a WebSocket upgrade from a foreign `Origin` (403; cross-site WebSocket hijacking).
///
/// A request that carries a body is answered and then closed: no route takes one, and a body
/// trickled in a byte at a time must not keep the connection for the next request.
/// Used only on the connection's event loop.
final class RequestGate: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        /// Between requests.
        case idle
        /// The request is passed on; its response is closed after when `closeAfterResponse`.
        case passing(closeAfterResponse: Bool, upgrade: Bool)
        /// The request was refused and answered: the rest of it is dropped, the connection closes.
        case refused
    }

    private let policy: HostPolicy
    private var state = State.idle
    private weak var deadline: RequestDeadlineHandler?

    init(policy: HostPolicy, deadline: RequestDeadlineHandler?) {
        self.policy = policy
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch (unwrapInboundIn(data), state) {
        case (_, .refused):
            return
        case (.head(let head), _):
            if let (status, reason) = refusal(of: head) {
                state = .refused
                deadline?.requestReceived()
                refuse(context: context, head: head, status: status, reason: reason)
                return
            }
            let upgrade = head.headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
            state = .passing(closeAfterResponse: Self.hasBody(head), upgrade: upgrade)
            context.fireChannelRead(data)
        case (.body, _):
            context.fireChannelRead(data)
        case (.end, let current):
            deadline?.requestReceived()
            context.fireChannelRead(data)
            if case .passing(_, upgrade: true) = current {
                // The upgrade replaces HTTP on this connection: what follows is not HTTP.
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        let closeAfter: Bool
        if case .passing(let close, _) = state { closeAfter = close } else { closeAfter = false }
        state = .idle
        if closeAfter {
            let written = promise ?? context.eventLoop.makePromise()
            context.write(data, promise: written)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            deadline?.awaitingRequest()
            context.write(data, promise: promise)
        }
    }

    private func refusal(of head: HTTPRequestHead) -> (HTTPResponseStatus, String)? {
        let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        if let problem = RequestPath.problem(in: path) { return (.badRequest, problem) }
        let hosts = head.headers["host"]
        // Two Host headers could be read differently by a proxy in front and by us (RFC 9112, 3.2).
        if hosts.count > 1 { return (.badRequest, "a request carries one Host header") }
        let host = hosts.first
        if case .refuse(let status, let reason) = policy.checkHost(host, version11: head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1)) {
            return (HTTPResponseStatus(statusCode: status), reason)
        }
        let upgrade = head.headers[canonicalForm: "upgrade"].contains { $0.lowercased() == "websocket" }
        if upgrade, case .refuse(let status, let reason) = policy.checkWebSocketOrigin(head.headers.first(name: "origin"), host: host) {
            return (HTTPResponseStatus(statusCode: status), reason)
        }
        return nil
    }

    /// Content-Length above 0 or any Transfer-Encoding: a body follows the head.
    private static func hasBody(_ head: HTTPRequestHead) -> Bool {
        if head.headers.contains(name: "transfer-encoding") { return true }
        return head.headers["content-length"].contains { $0 != "0" }
    }

    private func refuse(context: ChannelHandlerContext, head: HTTPRequestHead, status: HTTPResponseStatus, reason: String) {
        let body = (try? JSONEncoder().encode(["error": reason])) ?? Data("{}".utf8)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: "application/json; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.count))
        headers.add(name: "Cache-Control", value: "no-store")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: body)))), promise: nil)
        }
        let written = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
    }
}

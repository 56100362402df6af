import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// `RequestGate` for a request on an HTTP/2 stream: the same refusals of a path with a control
/// character and of a host the server does not answer to (`:authority`, or `Host`), marked with
/// `RequestGate.refusalHeader` for `RefusalMiddleware` to answer. An HTTP/2 stream carries one
/// request, and a WebSocket cannot start on one (no extended CONNECT: browsers open an HTTP/1.1
/// connection for it), so the rest of the HTTP/1.1 gate has nothing to do here.
///
/// On the way out it drops `Connection` from the response head: it means nothing in HTTP/2 and
/// the HTTP/2 codec refuses a response that carries it (`RefusalMiddleware` sets it for HTTP/1.1).
final class HTTP2RequestGate: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let policy: HostPolicy

    init(policy: HostPolicy) {
        self.policy = policy
    }

    private static var hostField: HTTPField.Name { HTTPField.Name("Host")! }
    private static var refusalField: HTTPField.Name { HTTPField.Name(RequestGate.refusalHeader)! }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        head.headerFields[Self.refusalField] = nil
        if let (status, reason) = refusal(of: head) {
            head.headerFields[Self.refusalField] = "\(status) \(reason)"
        }
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .head(var head) = unwrapOutboundIn(data), head.headerFields[.connection] != nil else {
            context.write(data, promise: promise)
            return
        }
        head.headerFields[.connection] = nil
        context.write(wrapOutboundOut(.head(head)), promise: promise)
    }

    private func refusal(of head: HTTPRequest) -> (Int, String)? {
        let path = (head.path ?? "").split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        if let problem = RequestPath.problem(in: path) { return (400, problem) }
        let hosts = head.headerFields[values: Self.hostField]
        if hosts.count > 1 { return (400, "a request carries one Host header") }
        // HTTP/2 names the host in `:authority` (RFC 9113, 8.3.1); `Host` only stands in for it.
        if case .refuse(let status, let reason) = policy.checkHost(head.authority ?? hosts.first, version11: true) {
            return (status, reason)
        }
        return nil
    }
}

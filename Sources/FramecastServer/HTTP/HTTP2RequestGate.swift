import HTTPTypes
import NIOCore
import NIOHTTP2
import NIOHTTPTypes

/// `RequestGate` for a request on an HTTP/2 stream: the same refusals of a path with a control
/// character and of a host the server does not answer to (`:authority`, or `Host`), marked with
/// `RequestGate.refusalHeader` for `RefusalMiddleware` to answer. An HTTP/2 stream carries one
/// request, and a WebSocket cannot start on one (no extended CONNECT: browsers open an HTTP/1.1
/// connection for it), so the rest of the HTTP/1.1 gate has nothing to do here.
///
/// On the way out it drops `Connection` from the response head: it means nothing in HTTP/2 and
/// the HTTP/2 codec refuses a response that carries it (`RefusalMiddleware` sets it for HTTP/1.1).
///
/// It also keeps the deadlines HTTP/1.1's gate keeps: the stream's request must arrive whole
/// within `--header-timeout` (headers without an end, a body trickled forever: the stream is
/// reset), and the connection's `RequestDeadlineHandler` runs while the connection has no stream
/// open (a silent connection is closed, whatever it acknowledges). And it puts the stream's
/// flow-control window counter first in the stream's channel (`HTTP2WindowCounter`).
final class HTTP2RequestGate: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let policy: HostPolicy
    private let requestTimeout: TimeAmount
    private var requestDeadline: Scheduled<Void>?
    /// The connection's deadline, told when this stream opens and closes.
    private var connectionDeadline: RequestDeadlineHandler?

    init(policy: HostPolicy, requestTimeout: TimeAmount) {
        self.policy = policy
        self.requestTimeout = requestTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        if let parent = channel.parent {
            connectionDeadline = try? parent.pipeline.syncOperations.handler(type: RequestDeadlineHandler.self)
            connectionDeadline?.streamOpened()
            if let windows = try? parent.pipeline.syncOperations.handler(type: HTTP2SendWindows.self),
                let stream = try? channel.syncOptions?.getOption(HTTP2StreamChannelOptions.streamID)
            {
                try? context.pipeline.syncOperations.addHandler(HTTP2WindowCounter(windows: windows, stream: stream), position: .first)
            }
        }
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        requestDeadline = context.eventLoop.scheduleTask(in: requestTimeout) {
            bound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        requestDeadline?.cancel()
        requestDeadline = nil
        connectionDeadline?.streamClosed()
        connectionDeadline = nil
    }

    private static var hostField: HTTPField.Name { HTTPField.Name("Host")! }
    private static var refusalField: HTTPField.Name { HTTPField.Name(RequestGate.refusalHeader)! }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            if case .end = unwrapInboundIn(data) {
                // The request is whole: no deadline on the response, however long it streams.
                requestDeadline?.cancel()
                requestDeadline = nil
            }
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
        // Two names for the host could be read differently by a proxy and by us (RFC 9113, 8.3.1).
        if let host = hosts.first, let authority = head.authority, HostPolicy.hostName(of: host) != HostPolicy.hostName(of: authority) {
            return (400, "the Host header and :authority name different hosts")
        }
        // HTTP/2 names the host in `:authority` (RFC 9113, 8.3.1); `Host` only stands in for it.
        if case .refuse(let status, let reason) = policy.checkHost(head.authority ?? hosts.first, version11: true) {
            return (status, reason)
        }
        return nil
    }
}

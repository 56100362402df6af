import NIOCore
import NIOHTTP1

/// Every request's head passes here first, right after the HTTP decoder and before the WebSocket
/// upgrade and Hummingbird: one place that judges what no route should see, and that follows each
/// request and response so the connection's deadline (`RequestDeadlineHandler`) covers the whole
/// of every request.
///
/// Refused (answered in order by `RefusalMiddleware`, then the connection closes):
/// - a path with a control character, raw or percent-encoded (400),
/// - a `Host` the server does not answer to, or two of them (421 / 400; DNS rebinding, see
///   `HostPolicy`), also when an absolute-form target names the host,
/// - a WebSocket upgrade from a foreign `Origin` (403; cross-site WebSocket hijacking).
/// A refused request goes on to Hummingbird as an ordinary request, without its `Upgrade`, and
/// marked with `refusalHeader`, so its answer keeps its place among pipelined responses. The gate
/// leaves the pipeline after the first request when that is a WebSocket upgrade (see
/// `isWebSocketUpgrade`): the connection then either stops being HTTP or is closed.
///
/// A request that carries a body is answered and then closed: no route takes one, and a body
/// trickled in a byte at a time must not keep the connection for the next request.
///
/// Deadline: cleared when a request has arrived whole; set again, when no request is being
/// answered and none is half-received, once the last response's final byte has been written
/// (not queued: a slow download of a large snapshot is not cut short).
/// Used only on the connection's event loop.
final class RequestGate: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    /// Set by the gate only (a client's own is removed): "STATUS reason".
    static let refusalHeader = "X-Framecast-Refusal"

    private let policy: HostPolicy
    private weak var deadline: RequestDeadlineHandler?
    /// For each request whose head arrived and whose response has not ended, in order: whether
    /// the connection closes once that response is written (a body came, or it was refused).
    private var unanswered: [Bool] = []
    /// A request's head arrived but not its end.
    private var halfReceived = false
    /// The request in progress will upgrade the connection or have it closed.
    private var upgradeAfterEnd = false
    private var isFirstRequest = true

    init(policy: HostPolicy, deadline: RequestDeadlineHandler?) {
        self.policy = policy
        self.deadline = deadline
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(var head):
            let first = isFirstRequest
            isFirstRequest = false
            halfReceived = true
            // Time runs for this request from here at the latest (it already does if the
            // connection was waiting for it).
            deadline?.startIfStopped()
            head.headers.remove(name: Self.refusalHeader)
            var close = Self.hasBody(head)
            if let (status, reason) = refusal(of: head) {
                close = true
                head.headers.remove(name: "upgrade")
                head.headers.add(name: Self.refusalHeader, value: "\(status.code) \(reason)")
            } else if first, Self.isWebSocketUpgrade(head) {
                // Only the first request can upgrade (Hummingbird answers a later one 307 and
                // closes), and one that NIO's upgrader takes ends either upgraded or closed.
                upgradeAfterEnd = true
            }
            unanswered.append(close)
            context.fireChannelRead(wrapInboundOut(.head(head)))
        case .body:
            context.fireChannelRead(data)
        case .end:
            halfReceived = false
            deadline?.requestReceived()
            context.fireChannelRead(data)
            if upgradeAfterEnd {
                // What follows the upgrade is not HTTP: leave before the upgrader removes the
                // decoder (whose leftover bytes would reach this handler as raw bytes).
                context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
            }
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let part = unwrapOutboundIn(data)
        guard case .end = part else {
            context.write(data, promise: promise)
            return
        }
        let close = unanswered.isEmpty ? false : unanswered.removeFirst()
        let written = promise ?? context.eventLoop.makePromise()
        context.write(data, promise: written)
        written.futureResult.assumeIsolated().whenComplete { _ in
            if close {
                context.close(promise: nil)
            } else if self.unanswered.isEmpty, !self.halfReceived {
                // The last byte is out: the client has the deadline to send its next request.
                self.deadline?.awaitingRequest()
            }
        }
    }

    private func refusal(of head: HTTPRequestHead) -> (HTTPResponseStatus, String)? {
        let target = head.uri
        let path = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        if let problem = RequestPath.problem(in: path) { return (.badRequest, problem) }
        let hosts = head.headers["host"]
        // Two Host headers could be read differently by a proxy in front and by us (RFC 9112, 3.2).
        if hosts.count > 1 { return (.badRequest, "a request carries one Host header") }
        // An absolute-form target's authority replaces Host (RFC 9112, 3.2.2).
        let host = Self.authority(ofAbsoluteTarget: target) ?? hosts.first
        if case .refuse(let status, let reason) = policy.checkHost(host, version11: head.version.major > 1 || (head.version.major == 1 && head.version.minor >= 1)) {
            return (HTTPResponseStatus(statusCode: status), reason)
        }
        if Self.upgradeProtocols(head).contains("websocket"),
            case .refuse(let status, let reason) = policy.checkWebSocketOrigin(head.headers.first(name: "origin"), host: host)
        {
            return (HTTPResponseStatus(statusCode: status), reason)
        }
        return nil
    }

    /// `http://host:port/path` → `host:port`; nil for an origin-form target (`/path`).
    static func authority(ofAbsoluteTarget target: String) -> String? {
        let lower = target.lowercased()
        for scheme in ["http://", "https://"] where lower.hasPrefix(scheme) {
            let rest = target.dropFirst(scheme.count)
            return String(rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" })
        }
        return nil
    }

    /// The protocols of `Upgrade`, lower-case.
    private static func upgradeProtocols(_ head: HTTPRequestHead) -> [String] {
        head.headers["upgrade"].flatMap { $0.split(separator: ",") }.map { trimmed($0).lowercased() }
    }

    /// Whether NIO's WebSocket upgrader takes this request, which then ends upgraded or closed
    /// (a refused upgrade is answered 400 and closed): `Connection: upgrade`, `websocket` among the
    /// `Upgrade` protocols, one `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`. A request
    /// missing any of them stays HTTP, and under the gate.
    static func isWebSocketUpgrade(_ head: HTTPRequestHead) -> Bool {
        upgradeProtocols(head).contains("websocket")
            && head.headers["connection"].contains { $0.split(separator: ",").contains { trimmed($0).lowercased() == "upgrade" } }
            && head.headers["sec-websocket-key"].count == 1
            && head.headers["sec-websocket-version"] == ["13"]
    }

    /// Content-Length above 0 or any Transfer-Encoding: a body follows the head.
    private static func hasBody(_ head: HTTPRequestHead) -> Bool {
        if head.headers.contains(name: "transfer-encoding") { return true }
        return head.headers["content-length"].contains { $0 != "0" }
    }
}

/// A header list item without the spaces and tabs around it.
private func trimmed(_ item: Substring) -> String {
    var item = item
    while let first = item.first, first == " " || first == "\t" { item.removeFirst() }
    while let last = item.last, last == " " || last == "\t" { item.removeLast() }
    return String(item)
}

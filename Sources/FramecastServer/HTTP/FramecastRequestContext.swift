public import Hummingbird
public import NIOCore

/// A request context that knows its connection: a stream response makes it a consumer of its
/// stream's hub (`MultipartDelivery`), which writes frames to it directly; a snapshot waits on
/// the connection's event loop.
public protocol ChannelRequestContext: RequestContext {
    var channel: any Channel { get }
}

/// The context of every plain HTTP route: Hummingbird's core storage and the connection.
public struct FramecastRequestContext: ChannelRequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel
    /// The request came over TLS (set by the HTTPS listener): the session cookie is `Secure` and
    /// the absolute URLs this server hands out say `https`.
    public var isSecure: Bool = false

    public init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        channel = source.channel
    }
}

extension FramecastRequestContext: AuthRequestContext {
    var authClientAddress: String? { AuthClientAddress.key(channel.remoteAddress) }
}

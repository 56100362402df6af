import Glibc
import Hummingbird
import HummingbirdWebSocket
import NIOCore

/// A request context that can say which client sent the request, for the failed-login throttle
/// of `BasicAuthMiddleware`.
protocol AuthRequestContext: RequestContext {
    /// The throttle's key for the client, or nil when the context cannot know it.
    var authClientAddress: String? { get }
    /// The request came over TLS: a session cookie set in answer is `Secure`.
    var isSecure: Bool { get }
}

/// The WebSocket router's context: Hummingbird's own keeps no connection, so upgrade requests
/// could not be told apart by address for the failed-login throttle.
struct FramecastWebSocketRequestContext: RequestContext, WebSocketRequestContext, AuthRequestContext {
    var coreContext: CoreRequestContextStorage
    let webSocket: WebSocketHandlerReference<Self>
    let channel: any Channel
    /// The upgrade came over TLS (set by the HTTPS listener).
    var isSecure: Bool = false

    init(source: ApplicationRequestContextSource) {
        coreContext = CoreRequestContextStorage(source: source)
        webSocket = WebSocketHandlerReference()
        channel = source.channel
    }

    var authClientAddress: String? { AuthClientAddress.key(channel.remoteAddress) }
}

enum AuthClientAddress {
    /// An IPv4 address whole; an IPv6 address by its /64 prefix, which one host or site usually
    /// holds whole (an IPv4 address mapped into IPv6 stays whole).
    static func key(_ address: SocketAddress?) -> String? {
        switch address {
        case .v4?:
            return address?.ipAddress
        case .v6(let v6)?:
            // sockaddr_in6: family (2 bytes), port (2), flow info (4), then the 16-byte address.
            let bytes = withUnsafeBytes(of: v6.address) { Array($0[8..<24]) }
            if bytes[0..<10].allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
                return bytes[12...].map(String.init).joined(separator: ".")
            }
            let groups = stride(from: 0, to: 8, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
            return groups.joined(separator: ":") + "::/64"
        case .unixDomainSocket?, nil:
            return nil
        }
    }
}

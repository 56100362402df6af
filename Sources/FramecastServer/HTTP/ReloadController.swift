import Hummingbird
import HTTPTypes
import NIOCore

/// `POST /api/reload`: the same reload as SIGHUP, answered with what changed (or, 422, why the
/// new configuration was refused and the running one kept).
///
/// Behind `--auth`/`--htpasswd` like every route. A server without credentials takes it only from
/// its own machine (loopback or unix socket). A page on another site can make a browser send a
/// POST with no preflight, so a request carrying an `Origin` that is not the server's own is
/// refused whatever its credentials.
struct ReloadController<Context: ChannelRequestContext> {
    let reloader: StreamReloader
    let requiresAuthentication: Bool

    func addRoutes(to router: Router<Context>) {
        router.post("/api/reload") { request, context -> Response in
            if let origin = request.headers[.origin],
                HostPolicy.authority(ofOrigin: HostPolicy.normalizedOrigin(origin)) != request.head.authority?.lowercased()
            {
                return JSONError(error: "a reload is not accepted from a page on another site (Origin '\(EchoedText.printable(origin, limit: 100))')")
                    .response(status: .forbidden)
            }
            if !requiresAuthentication, !Self.isLocal(context.channel.remoteAddress) {
                return JSONError(error: "without --auth or --htpasswd, a reload is accepted only over loopback (or send SIGHUP)")
                    .response(status: .forbidden)
            }
            switch await reloader.reload(trigger: "POST /api/reload") {
            case .success(let report):
                return Response.json(report)
            case .failure(let failure):
                return JSONError(error: "reload refused, the running configuration is kept: \(failure.description)")
                    .response(status: .unprocessableContent)
            }
        }
        for method in [HTTPRequest.Method.get, .put, .delete, .patch, .options] {
            router.on("/api/reload", method: method) { _, _ in
                JSONError(error: "method \(method.rawValue) is not allowed here; use POST").response(status: .methodNotAllowed, headers: [.allow: "POST"])
            }
        }
    }

    /// A peer on this machine's loopback. Not a unix socket's: behind a proxy (what `--unix` is
    /// for), every remote viewer arrives through it. SIGHUP reloads a server on a socket alone.
    static func isLocal(_ address: SocketAddress?) -> Bool {
        guard let address else { return false }
        switch address {
        case .unixDomainSocket: return false
        case .v4, .v6: return HostPolicy.isLoopback(address.ipAddress ?? "")
        }
    }
}

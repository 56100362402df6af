import Foundation
import Hummingbird
import HTTPTypes
import MediaPipeline

/// `POST /api/links?stream=NAME&ttl=7d&scope=stream|snapshot`: a signed link to one stream, for
/// a signed-in user (Basic or the session cookie; a link cannot make links, see
/// `BasicAuthMiddleware`). The parameters are in the query: a request body would close the
/// connection (`RequestGate`).
///
/// Answers `{"path", "url", "expires", "scope", "stream"}`: `url` is absolute when the request
/// named its host (`https` when it came over TLS). 404 without `--link-key-file` or for an
/// unknown stream, 400 for a bad parameter, 403 from a page on another site (as for
/// `/api/reload`) or, on a server without credentials, from another machine: a link made
/// there would open the stream once credentials are configured.
struct LinksController<Context: ChannelRequestContext & AuthRequestContext> {
    let keys: LinkKeyStore?
    let catalog: StreamCatalog
    let requiresAuthentication: Bool

    struct Made: Encodable {
        var path: String
        var url: String
        var expires: String
        var scope: String
        var stream: String
    }

    func addRoutes(to router: Router<Context>) {
        router.post("/api/links") { request, context -> Response in
            if let origin = request.headers[.origin],
                HostPolicy.authority(ofOrigin: HostPolicy.normalizedOrigin(origin)) != request.head.authority?.lowercased()
            {
                return JSONError(error: "a link is not made for a page on another site (Origin '\(EchoedText.printable(origin, limit: 100))')")
                    .response(status: .forbidden)
            }
            if !requiresAuthentication, !ReloadController<Context>.isLocal(context.channel.remoteAddress) {
                return JSONError(error: "without --auth or --htpasswd, links are made only over loopback (or with framecast link)")
                    .response(status: .forbidden)
            }
            guard let keys else {
                return JSONError(error: "signed links are off: start the server with --link-key-file FILE").response(status: .notFound)
            }
            return make(request, context: context, key: keys.current)
        }
        for method in [HTTPRequest.Method.get, .put, .delete, .patch, .options] {
            router.on("/api/links", method: method) { _, _ in
                JSONError(error: "method \(method.rawValue) is not allowed here; use POST").response(status: .methodNotAllowed, headers: [.allow: "POST"])
            }
        }
    }

    private func make(_ request: Request, context: Context, key: LinkKey) -> Response {
        let query = request.uri.queryParameters
        for name in ["stream", "ttl", "scope"] where query.getAll(name).count > 1 {
            return JSONError(error: "give \(name) once").response(status: .badRequest)
        }
        guard let stream = query["stream"].map(String.init), !stream.isEmpty else {
            return JSONError(error: "name the stream: POST /api/links?stream=NAME", streams: catalog.names).response(status: .badRequest)
        }
        guard StreamName.isValid(stream), catalog.named(stream) != nil else { return JSONError.unknownStream(EchoedText.printable(stream, limit: 64), in: catalog) }
        let scopeText = query["scope"].map(String.init) ?? LinkToken.Scope.stream.rawValue
        guard let scope = LinkToken.Scope(rawValue: scopeText) else {
            return JSONError(error: "scope must be stream or snapshot, not '\(BoundedNumber.quotable(scopeText))'").response(status: .badRequest)
        }
        let lifetime: Int64
        switch LinkLifetime.parse(query["ttl"].map(String.init) ?? LinkLifetime.standard) {
        case .success(let seconds): lifetime = seconds
        case .failure(let refusal): return JSONError(error: refusal.description).response(status: .badRequest)
        }
        let token = LinkToken(stream: stream, scope: scope, lifetime: lifetime)
        let path = token.path(signedWith: key)
        // The Host the client used, checked against the host policy before any route ran.
        let url = request.head.authority.map { "\(context.isSecure ? "https" : "http")://\($0)\(path)" } ?? path
        return Response.json(Made(path: path, url: url, expires: token.expiresDescription, scope: scope.rawValue, stream: stream))
    }
}

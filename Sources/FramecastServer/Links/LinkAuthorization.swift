import Hummingbird
import HTTPTypes

/// Decides a request that carries `?token=` and no `Authorization`: allowed only when the token
/// is ours, unexpired, and made for exactly what the request asks (that stream, that scope, with
/// GET or HEAD). The refusal says which check failed; it never holds the token itself.
struct LinkAuthorization: Sendable {
    let keys: LinkKeyStore
    let catalog: StreamCatalog

    /// Why a link does not open what a request asks (401, no Basic challenge).
    enum Refusal: Error, Equatable {
        case token(LinkToken.Refusal)
        /// Two `token` parameters: which one would count?
        case ambiguous
        /// The path is not a picture of a stream (the page, the API, `/ws`, `/metrics`, ...).
        case notAPicture
        case otherStream(token: String, asked: String)
        case otherScope(token: LinkToken.Scope, asked: LinkToken.Scope, stream: String)
        case method(String)

        var code: String {
            switch self {
            case .token(let refusal): refusal.code
            case .ambiguous: "malformed"
            case .notAPicture: "not-a-picture"
            case .otherStream: "other-stream"
            case .otherScope: "wrong-scope"
            case .method: "method"
            }
        }

        var message: String {
            switch self {
            case .token(.malformed), .ambiguous:
                "the link's token is malformed"
            case .token(.invalidSignature):
                "the link's token is not valid: it was altered, or the server's link key has changed since it was made"
            case .token(.expired(let at)):
                "the link expired at \(LinkToken(stream: "", scope: .stream, expires: at).expiresDescription)"
            case .notAPicture:
                "a link opens only its stream's pictures (/stream/NAME or /snapshot/NAME), not this page"
            case .otherStream(let token, let asked):
                "the link is for stream '\(token)', not '\(EchoedText.printable(asked, limit: 64))'"
            case .otherScope(let token, let asked, let stream):
                "the link opens \(token == .stream ? "the live stream" : "snapshots") of '\(stream)', not \(asked == .stream ? "its live stream" : "its snapshots")"
            case .method(let method):
                "a link opens pictures with GET, not \(EchoedText.printable(method, limit: 16))"
            }
        }

        var response: Response {
            JSONError(error: message, reason: code).response(status: .unauthorized)
        }
    }

    /// The request's `token` parameters (none: the request is no link).
    static func tokens(of request: Request) -> [String] {
        request.uri.queryParameters.getAll("token")
    }

    /// Allowed (the token opens what the request asks), or why not. The HEAD middleware has
    /// turned HEAD into GET already.
    func decide(_ request: Request, tokens: [String]) -> Result<LinkToken, Refusal> {
        guard tokens.count == 1, let text = tokens.first else { return .failure(.ambiguous) }
        let token: LinkToken
        switch LinkToken.verify(text, key: keys.current) {
        case .success(let verified): token = verified
        case .failure(let refusal): return .failure(.token(refusal))
        }
        guard request.method == .get || request.method == .head else { return .failure(.method(request.method.rawValue)) }
        let action = request.uri.queryParameters["action"].map(String.init)
        guard let target = LinkTarget.of(path: request.uri.path, action: action, names: catalog.names) else { return .failure(.notAPicture) }
        guard target.stream == token.stream else { return .failure(.otherStream(token: token.stream, asked: target.stream)) }
        guard target.scope == token.scope else { return .failure(.otherScope(token: token.scope, asked: target.scope, stream: token.stream)) }
        return .success(token)
    }
}

import Hummingbird
import HTTPTypes

/// `HEAD` on every route answers what `GET` would (status and headers, Content-Length included;
/// a stream, which has no length, says 0), with no body: the request goes through every middleware and route as a `GET`, and
/// the body of the response is dropped without being produced. A stream's body is what attaches
/// its connection to the stream's hub, so a `HEAD` of a stream never attaches one and never starts writing
/// frames below the HTTP encoder. Outermost, so every middleware and route sees the `GET`.
struct HeadMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.method == .head else { return try await next(request, context) }
        var head = request.head
        head.method = .get
        let response = try await next(Request(head: head, body: request.body), context)
        // A stream, which has no length, answers `Content-Length: 0` (Hummingbird's HEAD response).
        return response.createHeadResponse()
    }
}

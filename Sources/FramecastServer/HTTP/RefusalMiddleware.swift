import Hummingbird
import HTTPTypes

/// Answers a request that `RequestGate` refused (it carries `RequestGate.refusalHeader`, which no
/// client can set) with the status and the JSON reason, before any other middleware or route sees
/// it. The gate closes the connection once this answer is written.
struct RefusalMiddleware<Context: RequestContext>: RouterMiddleware {
    static var headerName: HTTPField.Name { HTTPField.Name(RequestGate.refusalHeader)! }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let value = request.headers[Self.headerName] else { return try await next(request, context) }
        let code = Int(value.prefix(3)) ?? 400
        let reason = value.count > 4 ? String(value.dropFirst(4)) : "refused"
        return JSONError(error: reason).response(status: HTTPResponse.Status(code: code), headers: [.connection: "close"])
    }
}

import Hummingbird
import HTTPTypes

/// Answers 405 (with `Allow`) for a known read-only path asked with another method. Hummingbird's
/// router alone would answer 404, which tells a client the path does not exist.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Paths served exactly, and prefixes followed by a stream name.
    let exactPaths: Set<String>
    let namedPrefixes: [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.method != .get, request.method != .head, isReadOnlyRoute(request.uri.path) {
            return JSONError(error: "method \(request.method.rawValue) is not allowed here; use GET")
                .response(status: .methodNotAllowed, headers: [.allow: "GET, HEAD"])
        }
        return try await next(request, context)
    }

    private func isReadOnlyRoute(_ path: String) -> Bool {
        if exactPaths.contains(path) { return true }
        return namedPrefixes.contains { prefix in
            path.hasPrefix(prefix) && path.count > prefix.count && !path.dropFirst(prefix.count).contains("/")
        }
    }
}

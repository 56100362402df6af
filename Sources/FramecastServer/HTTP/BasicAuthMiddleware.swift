import Foundation
import Hummingbird
import HTTPTypes
import Logging

/// HTTP Basic authentication on every route but `/healthz`. A failed attempt is logged with the
/// user name and path, never the password.
struct BasicAuthMiddleware<Context: RequestContext>: RouterMiddleware {
    let access: AccessControl

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/healthz" { return try await next(request, context) }
        guard let (user, password) = Self.credentials(request.headers[.authorization]) else {
            return Self.challenge()
        }
        guard access.permits(user: user, password: password) else {
            context.logger.warning("authentication failed", metadata: ["user": .string(user), "path": .string(request.uri.path)])
            return Self.challenge()
        }
        return try await next(request, context)
    }

    static func credentials(_ header: String?) -> (String, String)? {
        guard let header, header.count < 4096, header.lowercased().hasPrefix("basic ") else { return nil }
        guard let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":")
        else { return nil }
        return (String(text[..<colon]), String(text[text.index(after: colon)...]))
    }

    static func challenge() -> Response {
        JSONError(error: "authentication required").response(
            status: .unauthorized, headers: [.wwwAuthenticate: "Basic realm=\"Framecast\", charset=\"UTF-8\""])
    }
}

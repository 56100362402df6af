import Foundation
import Hummingbird
import HTTPTypes
import Logging

/// Authentication on every route but `/healthz`, decided in this order:
///
/// 1. an `Authorization` header: HTTP Basic. 401 for missing or wrong credentials, 429 with
///    `Retry-After` for an address with too many recent failures, 503 with `Retry-After` when the
///    bcrypt worker is full (see `AccessControl`). A success also sets the session cookie when
///    the request had no valid one (`SessionCookies`; never on a refusal).
/// 2. else a `?token=` (with `--link-key-file`): a signed link, which opens only its stream's
///    pictures (`LinkAuthorization`). A refused token answers 401 with the reason and no Basic
///    challenge: an `<img>` on another site must not make the browser ask for a password.
/// 3. else a valid session cookie.
/// 4. else 401 with the Basic challenge.
///
/// A failure is logged with the user name (or the link's reason), the path and the address;
/// never the password, the token, the cookie or the query.
struct BasicAuthMiddleware<Context: AuthRequestContext>: RouterMiddleware {
    let access: AccessControl
    /// Session cookies: read when `sessions` is set, set after a Basic login when `issuesCookies`
    /// (not on the WebSocket router, whose answer is the upgrade).
    var sessions: SessionCookies?
    var issuesCookies = true
    /// Signed links; nil without `--link-key-file`, when a token is no credential at all.
    var links: LinkAuthorization?

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/healthz" { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            if let links {
                let tokens = LinkAuthorization.tokens(of: request)
                if !tokens.isEmpty { return try await link(request, context: context, links: links, tokens: tokens, next: next) }
            }
            if let sessions, sessions.user(in: request.headers) != nil { return try await next(request, context) }
            return Self.challenge()
        }
        guard let (user, password) = Self.credentials(header) else { return Self.challenge() }
        let address = context.authClientAddress
        switch await access.authorize(user: user, password: password, header: header, address: address) {
        case .allow:
            var response = try await next(request, context)
            // Never on a refusal, should a route ever answer one.
            if issuesCookies, response.status != .unauthorized, response.status != .tooManyRequests, let sessions,
                sessions.user(in: request.headers) != user, let value = sessions.value(for: user)
            {
                response.headers.append(HTTPField(name: .setCookie, value: SessionCookies.setCookie(value, secure: context.isSecure)))
            }
            return response
        case .deny(let blockedFor):
            var metadata: Logger.Metadata = ["user": .string(user), "path": .string(request.uri.path)]
            metadata["address"] = .string(address ?? AccessControl.unknownAddress)
            context.logger.warning("authentication failed", metadata: metadata)
            if let blockedFor {
                metadata["seconds"] = .stringConvertible(blockedFor.retryAfterSeconds)
                context.logger.warning("too many failed logins: refusing the address for a while", metadata: metadata)
            }
            return Self.challenge()
        case .throttled(let retryAfter):
            context.logger.debug("authentication refused: too many failures", metadata: ["address": .string(address ?? AccessControl.unknownAddress)])
            return JSONError(error: "too many failed logins from this address; try again later").response(
                status: .tooManyRequests, headers: [.retryAfter: String(retryAfter.retryAfterSeconds)])
        case .busy:
            context.logger.debug("authentication refused: bcrypt worker full")
            return JSONError(error: "too many logins being checked; try again shortly").response(
                status: .serviceUnavailable, headers: [.retryAfter: "1"])
        }
    }

    /// A request that a signed link must open on its own. The path is logged, never the query
    /// that holds the token.
    private func link(
        _ request: Request, context: Context, links: LinkAuthorization, tokens: [String], next: (Request, Context) async throws -> Response
    ) async throws -> Response {
        switch links.decide(request, tokens: tokens) {
        case .success:
            return try await next(request, context)
        case .failure(let refusal):
            context.logger.info(
                "signed link refused",
                metadata: [
                    "reason": .string(refusal.code), "path": .string(request.uri.path),
                    "address": .string(context.authClientAddress ?? AccessControl.unknownAddress),
                ])
            return refusal.response
        }
    }

    /// User and password of a `Basic` Authorization value, or nil when it is not one. A NUL in
    /// either is refused: bcrypt reads C strings, so `secret\0anything` would pass as `secret`.
    static func credentials(_ header: String) -> (String, String)? {
        guard header.utf8.count < 4096 else { return nil }
        let scheme = header.utf8.prefix(6)
        guard scheme.count == 6, String(decoding: scheme, as: UTF8.self).lowercased() == "basic " else { return nil }
        let encoded = String(decoding: header.utf8.dropFirst(6), as: UTF8.self).trimmingCharacters(in: .whitespaces)
        // Split on the byte: a combining mark after `:` would hide it from a `Character` search.
        guard let decoded = Data(base64Encoded: encoded).map(Array.init), !decoded.contains(0),
            let colon = decoded.firstIndex(of: UInt8(ascii: ":")),
            let user = String(validating: decoded[..<colon], as: UTF8.self),
            let password = String(validating: decoded[(colon + 1)...], as: UTF8.self)
        else { return nil }
        return (user, password)
    }

    static func challenge() -> Response {
        JSONError(error: "authentication required").response(
            status: .unauthorized, headers: [.wwwAuthenticate: "Basic realm=\"Framecast\", charset=\"UTF-8\""])
    }
}

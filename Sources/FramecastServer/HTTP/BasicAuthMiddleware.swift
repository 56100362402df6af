import Foundation
import Hummingbird
import HTTPTypes
import Logging

/// HTTP Basic authentication on every route but `/healthz`: 401 for missing or wrong credentials,
/// 429 with `Retry-After` for an address with too many recent failures, 503 with `Retry-After`
/// when the bcrypt worker is full (see `AccessControl`). A failed attempt is logged with the user
/// name, path and address, never the password.
struct BasicAuthMiddleware<Context: AuthRequestContext>: RouterMiddleware {
    let access: AccessControl

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/healthz" { return try await next(request, context) }
        guard let header = request.headers[.authorization], let (user, password) = Self.credentials(header) else {
            return Self.challenge()
        }
        let address = context.authClientAddress
        switch await access.authorize(user: user, password: password, header: header, address: address) {
        case .allow:
            return try await next(request, context)
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

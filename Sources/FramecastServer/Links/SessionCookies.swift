import Crypto
import Foundation
import HTTPTypes

/// The session cookie a browser gets after a successful Basic login, so that the page, its
/// `<img>` streams and its WebSocket need no `Authorization` header: `framecast_session`, valid
/// 12 hours, `HttpOnly; SameSite=Strict` (and `Secure` over TLS).
///
/// The value is `v1.<expiry>.<user>.<mac>` (user and MAC in base64url): an HMAC-SHA256 of the
/// user, the expiry and a digest of the user's credential entry, under a key made at random for
/// this process. Nothing is stored, and nothing survives a restart; a user removed from the
/// htpasswd file, or whose password changed, is refused after the reload that reads it, because
/// the entry the MAC was bound to is gone.
final class SessionCookies: Sendable {
    static let name = "framecast_session"
    static let lifetime: Int64 = 12 * 3600

    private let key = SymmetricKey(size: .bits256)
    /// What an unknown user's cookie is checked against (it never matches: it is refused after).
    private static let noEntry = [UInt8](repeating: 0, count: SHA256.byteCount)
    let access: AccessControl

    init(access: AccessControl) {
        self.access = access
    }

    /// A cookie value for `user`, or nil when the credentials no longer know the user.
    func value(for user: String, now: Int64 = LinkToken.now()) -> String? {
        guard let binding = access.sessionBinding(user: user) else { return nil }
        let signedPart = "v1.\(now + Self.lifetime).\(Base64URL.encode(Array(user.utf8)))"
        return signedPart + "." + Base64URL.encode(mac(Substring(signedPart), binding: binding))
    }

    /// The `Set-Cookie` value for `value`. No `Max-Age`: the cookie ends with the browser session
    /// at the latest, and the server refuses it after 12 hours anyway.
    static func setCookie(_ value: String, secure: Bool) -> String {
        "\(name)=\(value); Path=/; HttpOnly; SameSite=Strict" + (secure ? "; Secure" : "")
    }

    private func mac(_ signedPart: Substring, binding: [UInt8]) -> HashedAuthenticationCode<SHA256> {
        HMAC<SHA256>.authenticationCode(for: Array("framecast-session:\(signedPart):".utf8) + binding, using: key)
    }

    /// The user of the first valid `framecast_session` cookie among the request's `Cookie`
    /// fields, or nil. Tampered with, expired, signed by another process or for a user the
    /// credentials no longer hold: nil, and the request is treated as carrying no cookie.
    func user(in fields: HTTPFields, now: Int64 = LinkToken.now()) -> String? {
        for value in Self.values(in: fields) {
            if let user = verify(value, now: now) { return user }
        }
        return nil
    }

    /// Every `framecast_session` value in the `Cookie` fields (HTTP/2 may split them).
    static func values(in fields: HTTPFields) -> [Substring] {
        var values: [Substring] = []
        for field in fields[values: .cookie] where field.utf8.count <= 8192 {
            for pair in field.split(separator: ";") {
                let pair = pair.drop(while: { $0 == " " })
                guard let equals = pair.firstIndex(of: "="), pair[..<equals] == name else { continue }
                values.append(pair[pair.index(after: equals)...])
            }
        }
        return values
    }

    private func verify(_ value: Substring, now: Int64) -> String? {
        guard value.utf8.count <= 1024 else { return nil }
        let fields = value.split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 4, fields[0] == "v1",
            !fields[1].isEmpty, fields[1].count <= 12, fields[1].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let expires = Int64(fields[1]), now < expires,
            let userBytes = Base64URL.decode(fields[2]), let user = String(validating: userBytes, as: UTF8.self),
            let mac = Base64URL.decode(fields[3]), mac.count == SHA256.byteCount
        else { return nil }
        let signedPart = value[..<fields[3].startIndex].dropLast()
        // The MAC is checked for unknown users too (against no entry at all): a forged cookie
        // takes as long for a user that exists as for one that does not.
        let binding = access.sessionBinding(user: user)
        // Constant time (swift-crypto), as for links.
        let valid = HMAC<SHA256>.isValidAuthenticationCode(
            mac, authenticating: Array("framecast-session:\(signedPart):".utf8) + (binding ?? Self.noEntry), using: key)
        return valid && binding != nil ? user : nil
    }
}

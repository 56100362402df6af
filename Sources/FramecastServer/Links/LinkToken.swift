import Crypto
import Foundation
import MediaPipeline

/// A signed link's token: one stream, one scope, an expiry, and an HMAC-SHA256 of the three under
/// the server's link key (`LinkKey`). Nothing is stored on the server: whoever holds the key can
/// make tokens (`framecast link`, `POST /api/links`) and changing the key revokes them all.
///
/// Spelt `v1.<expiry>.<scope>.<stream>.<mac>`: the expiry in Unix seconds, the scope `stream` or
/// `snapshot`, the stream name and the 32-byte MAC in base64url without padding, e.g.
/// `v1.1767225600.stream.Y2Ft.Ht3…`. The MAC covers `framecast-link:` and the four fields exactly
/// as written. Every character is URL- and cookie-safe, so the token goes into `?token=` as is.
public struct LinkToken: Sendable, Equatable {
    /// What a token opens of its stream.
    public enum Scope: String, Sendable, CaseIterable {
        /// The live multipart stream, its renditions and mjpg-streamer's `?action=stream`.
        case stream
        /// Single pictures: `/snapshot/NAME`, its renditions and `?action=snapshot`.
        case snapshot

        /// The path a link of this scope opens.
        func path(_ stream: String) -> String {
            switch self {
            case .stream: "/stream/\(stream)"
            case .snapshot: "/snapshot/\(stream)"
            }
        }
    }

    public let stream: String
    public let scope: Scope
    /// Unix seconds; the token is refused from that second on.
    public let expires: Int64

    public init(stream: String, scope: Scope, expires: Int64) {
        self.stream = stream
        self.scope = scope
        self.expires = expires
    }

    /// A token valid for `lifetime` seconds from `now` (Unix seconds).
    public init(stream: String, scope: Scope, lifetime: Int64, now: Int64 = LinkToken.now()) {
        self.init(stream: stream, scope: scope, expires: now + lifetime)
    }

    /// The current Unix time in whole seconds.
    public static func now() -> Int64 { Int64(Date().timeIntervalSince1970.rounded(.down)) }

    static let version = "v1"
    /// Longer is not one of ours (a stream name is short): refused before any decoding.
    static let maximumLength = 512

    private var signedPart: String { "\(Self.version).\(expires).\(scope.rawValue).\(Base64URL.encode(Array(stream.utf8)))" }

    private static func mac(_ signedPart: Substring, key: LinkKey) -> HashedAuthenticationCode<SHA256> {
        HMAC<SHA256>.authenticationCode(for: Array("framecast-link:\(signedPart)".utf8), using: key.symmetric)
    }

    /// The token's text, signed with `key`.
    public func signed(with key: LinkKey) -> String {
        let part = signedPart
        return part + "." + Base64URL.encode(Self.mac(Substring(part), key: key))
    }

    /// The path and query a browser asks for: `/stream/cam?token=…`.
    public func path(signedWith key: LinkKey) -> String {
        "\(scope.path(stream))?token=\(signed(with: key))"
    }

    /// The expiry as ISO 8601 (UTC), for people and JSON.
    public var expiresDescription: String {
        ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: TimeInterval(expires)))
    }

    /// Why a token is not honoured (each answers 401, without a Basic challenge).
    public enum Refusal: Error, Sendable, Equatable {
        /// Not a token of this format at all.
        case malformed
        /// Well formed, but the MAC does not match: altered, or signed with another key (the key
        /// was rotated).
        case invalidSignature
        case expired(at: Int64)

        /// A short name for scripts and tests (`"reason"` in the JSON).
        public var code: String {
            switch self {
            case .malformed: "malformed"
            case .invalidSignature: "invalid-signature"
            case .expired: "expired"
            }
        }
    }

    /// The token `text` stands for, when it is well formed, its MAC is right under `key` (compared
    /// in constant time) and it has not expired at `now`.
    public static func verify(_ text: String, key: LinkKey, now: Int64 = LinkToken.now()) -> Result<LinkToken, Refusal> {
        guard text.utf8.count <= maximumLength else { return .failure(.malformed) }
        let fields = text.split(separator: ".", omittingEmptySubsequences: false)
        guard fields.count == 5, fields[0] == version,
            !fields[1].isEmpty, fields[1].count <= 12, fields[1].utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
            let expires = Int64(fields[1]),
            let scope = Scope(rawValue: String(fields[2])),
            let nameBytes = Base64URL.decode(fields[3]), let stream = String(validating: nameBytes, as: UTF8.self),
            StreamName.isValid(stream),
            let mac = Base64URL.decode(fields[4]), mac.count == SHA256.byteCount
        else { return .failure(.malformed) }
        let signedPart = text[..<fields[4].startIndex].dropLast()
        let key = key.symmetric
        // swift-crypto compares in constant time: no timing tells how much of a guess was right.
        guard HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: Array("framecast-link:\(signedPart)".utf8), using: key) else {
            return .failure(.invalidSignature)
        }
        // Only a token that is ours says when it expired.
        guard now < expires else { return .failure(.expired(at: expires)) }
        return .success(LinkToken(stream: stream, scope: scope, expires: expires))
    }
}

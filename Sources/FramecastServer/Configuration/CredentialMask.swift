/// Hides the passwords in a text: of every URL (`rtsp://admin:s3cret@cam:554/x` becomes
/// `rtsp://admin:***@cam:554/x`), and every value named like a secret (`user-pw=…`,
/// `proxy-pw=…`, `?pwd=…&password=…`, `token=…`). Pipeline descriptions carry camera credentials
/// in URLs and properties, and descriptions and element messages reach `/api/status` and the
/// log. Imports nothing.
public enum CredentialMask {
    public static func mask(_ text: String) -> String {
        maskNamedSecrets(maskURLs(text))
    }

    /// Names whose `=` value is a secret, compared case-insensitively at the end of the name
    /// (`proxy-pw`, `user-pw`, `camera_password`).
    static let secretNames = ["pw", "pwd", "pass", "passwd", "password", "passphrase", "secret", "token", "apikey", "api_key", "key"]

    private static func maskNamedSecrets(_ text: String) -> String {
        guard text.contains("=") else { return text }
        var output = ""
        var rest = Substring(text)
        while let equals = rest.firstIndex(of: "=") {
            let name = rest[..<equals].reversed().prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
            let lowered = String(name.reversed()).lowercased()
            output += rest[...equals]
            rest = rest[rest.index(after: equals)...]
            let isSecret = secretNames.contains { lowered == $0 || lowered.hasSuffix("-" + $0) || lowered.hasSuffix("_" + $0) }
            guard isSecret, let first = rest.first, first != "*" else { continue }
            // The value ends at the closing quote when quoted, else at a space, `&`, `;`, `!` or `,`.
            if first == "\"" || first == "'" {
                let close = rest.dropFirst().firstIndex(of: first) ?? rest.endIndex
                output += String(first) + "***"
                rest = rest[close...]
            } else {
                let end = rest.firstIndex { " \t\r\n&;!,\"'".contains($0) } ?? rest.endIndex
                if end != rest.startIndex { output += "***" }
                rest = rest[end...]
            }
        }
        return output + rest
    }

    private static func maskURLs(_ text: String) -> String {
        guard text.contains("://") else { return text }
        var output = ""
        var rest = Substring(text)
        while let scheme = rest.firstRange(of: "://") {
            output += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            // The authority ends at the first `/`, `?`, `#`, whitespace, quote or `!`; userinfo ends
            // at its last `@`.
            // A quoted URL may hold spaces in its password: look past them for the `@`.
            let end = rest.firstIndex { "/?#\t\r\n\"'!".contains($0) } ?? rest.endIndex
            let authority = rest[..<end]
            if let at = authority.lastIndex(of: "@") {
                let userinfo = authority[..<at]
                if let colon = userinfo.firstIndex(of: ":") {
                    output += userinfo[..<colon] + ":***"
                } else {
                    output += "***"
                }
                output += authority[at...]
            } else {
                output += authority
            }
            rest = rest[end...]
        }
        output += rest
        return output
    }
}

/// Hides the password of every URL in a text: `rtsp://admin:s3cret@cam:554/x` becomes
/// `rtsp://admin:***@cam:554/x`. Pipeline descriptions carry camera credentials in URLs, and
/// descriptions and element messages reach `/api/status` and the log. Imports nothing.
public enum CredentialMask {
    public static func mask(_ text: String) -> String {
        guard text.contains("://") else { return text }
        var output = ""
        var rest = Substring(text)
        while let scheme = rest.firstRange(of: "://") {
            output += rest[..<scheme.upperBound]
            rest = rest[scheme.upperBound...]
            // The authority ends at the first `/`, `?`, `#`, whitespace, quote or `!`; userinfo ends
            // at its last `@`.
            let end = rest.firstIndex { "/?# \t\r\n\"'!".contains($0) } ?? rest.endIndex
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

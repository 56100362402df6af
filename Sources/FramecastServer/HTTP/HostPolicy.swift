/// Which `Host` and `Origin` a request may carry. Imports nothing: it is fuzzed on its own (see
/// `Fuzz/`).
///
/// - `Host`: a page on any site can make a browser resolve its own name to 127.0.0.1 (DNS
///   rebinding) and then read every endpoint of a server bound there, because the browser thinks
///   it talks to that site. The browser still sends that site's name as `Host`, so a server bound
///   to loopback serves only `localhost`, `127.0.0.1`, `[::1]` (any port) and the names given with
///   `--allow-host`. On other binds `--allow-host`, when given, restricts the names the same way.
/// - `Origin` on the WebSocket upgrade: browsers let any page open a WebSocket to any server and
///   send its cookies and cached credentials (cross-site WebSocket hijacking), so the upgrade is
///   allowed only without `Origin` (not a browser) or from the server's own origin (the `Origin`'s
///   host and port equal `Host`) or from the `--allow-origin` origin.
struct HostPolicy: Sendable, Equatable {
    /// Lower-case host names (no port) that are served; nil serves any.
    let allowedHosts: Set<String>?
    /// Lower-case origins (`scheme://host[:port]`) allowed besides the server's own.
    let allowedOrigins: Set<String>

    enum Verdict: Equatable, Sendable {
        case allow
        /// The HTTP status (400, 403, 421) and the reason, for the JSON body.
        case refuse(status: Int, reason: String)
    }

    static let loopbackNames: Set<String> = ["localhost", "127.0.0.1", "[::1]", "::1"]

    init(bindHost: String, allowHosts: [String], allowOrigins: [String]) {
        let extra = allowHosts.map { Self.hostName(of: $0) ?? $0.lowercased() }
        if Self.isLoopback(bindHost) {
            allowedHosts = Self.loopbackNames.union(extra)
        } else {
            allowedHosts = extra.isEmpty ? nil : Set(extra)
        }
        allowedOrigins = Set(allowOrigins.map(Self.normalizedOrigin))
    }

    /// Whether the server listens on a loopback address only.
    static func isLoopback(_ bindHost: String) -> Bool {
        let host = bindHost.lowercased()
        return host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// `Host` of a request. `version11`: HTTP/1.1 requires the header (RFC 9112, 3.2).
    func checkHost(_ header: String?, version11: Bool) -> Verdict {
        guard let header else {
            return version11 ? .refuse(status: 400, reason: "an HTTP/1.1 request needs a Host header") : .allow
        }
        guard let name = Self.hostName(of: header) else {
            return .refuse(status: 400, reason: "the Host header is not a host name")
        }
        guard let allowedHosts, !allowedHosts.contains(name) else { return .allow }
        return .refuse(
            status: 421,
            reason: "this server does not answer to the host name '\(Self.shown(name))': it serves "
                + allowedHosts.sorted().joined(separator: ", ") + " (add more with --allow-host NAME)")
    }

    /// `Origin` of a WebSocket upgrade, against the request's own `Host`.
    func checkWebSocketOrigin(_ origin: String?, host: String?) -> Verdict {
        guard let origin else { return .allow }
        let normalized = Self.normalizedOrigin(origin)
        if allowedOrigins.contains(normalized) { return .allow }
        if let host, let authority = Self.authority(ofOrigin: normalized), authority == host.lowercased() { return .allow }
        return .refuse(
            status: 403,
            reason: "a page from '\(Self.shown(origin))' may not open this server's WebSocket (allow it with --allow-origin)")
    }

    /// The host name of a `Host` header or `--allow-host` value, lower-case and without its port:
    /// `Example.org:8080` → `example.org`, `[::1]:80` → `[::1]`. Nil when it is no host name.
    static func hostName(of header: String) -> String? {
        let text = header.lowercased()
        guard !text.isEmpty, text.utf8.count <= 255 else { return nil }
        var name = Substring(text)
        var port: Substring?
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            name = text[...close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":") else { return nil }
                port = rest.dropFirst()
            }
            let inner = name.dropFirst().dropLast()
            guard inner.contains(":"), inner.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) || $0 == ":" || $0 == "." })
            else { return nil }
        } else {
            if let colon = text.firstIndex(of: ":") {
                name = text[..<colon]
                port = text[text.index(after: colon)...]
            }
            let allowed = name.unicodeScalars.allSatisfy { scalar in
                ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "." || scalar == "_"
            }
            guard allowed, name.contains(where: { $0.isLetter || $0.isNumber }) else { return nil }
        }
        if let port {
            guard !port.isEmpty, port.count <= 5, port.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }), let number = Int(port), number <= 65535
            else { return nil }
        }
        return String(name)
    }

    /// `HTTP://Example.org:8080/` → `http://example.org:8080`.
    static func normalizedOrigin(_ origin: String) -> String {
        var text = origin.lowercased()
        while text.hasSuffix("/") { text.removeLast() }
        return text
    }

    /// The `host[:port]` of an `http` or `https` origin.
    static func authority(ofOrigin origin: String) -> String? {
        for scheme in ["http://", "https://"] where origin.hasPrefix(scheme) {
            let authority = origin.dropFirst(scheme.count)
            return authority.isEmpty || authority.contains("/") ? nil : String(authority)
        }
        return nil
    }

    /// What the client sent, as the refusal quotes it back (see `EchoedText`).
    private static func shown(_ text: String) -> String {
        EchoedText.printable(text, limit: 100)
    }
}

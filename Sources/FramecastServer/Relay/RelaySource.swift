import Foundation
import NIOCore
import NIOHTTP1
public import MediaPipeline

/// `relay:URL`, a stream whose frames come from another MJPEG server (an origin Framecast,
/// mjpg-streamer, µStreamer, an IP camera) instead of a pipeline: the URL to read and how.
struct RelaySource: Sendable, Equatable {
    static let prefix = "relay:"

    let secure: Bool
    let host: String
    let port: Int
    /// Path and query sent; a Framecast stream path asks for the length framing (which carries
    /// the origin's capture time).
    let target: String
    /// `Authorization` from the URL's user and password, never shown.
    let authorization: String?
    /// The URL with its password masked: what status and logs show.
    let shown: String

    /// Whether a stream description is a relay's.
    static func isRelay(_ description: String) -> Bool {
        description.trimmingCharacters(in: .whitespacesAndNewlines).hasPrefix(prefix)
    }

    init(description: String) throws(PipelineError) {
        let text = description.trimmingCharacters(in: .whitespacesAndNewlines).dropFirst(Self.prefix.count).trimmingCharacters(in: .whitespaces)
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https"
        else {
            throw .relay("'\(CredentialMask.mask(text))' is not an http:// or https:// URL (e.g. relay:http://origin:8080/stream/cam)")
        }
        guard let host = components.host, !host.isEmpty else { throw .relay("'\(CredentialMask.mask(text))' names no host") }
        secure = scheme == "https"
        self.host = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        port = components.port ?? (secure ? 443 : 80)
        guard (1...65535).contains(port) else { throw .relay("port \(port) is out of range") }
        var query = components.percentEncodedQueryItems ?? []
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if path.hasPrefix("/stream"), !query.contains(where: { $0.name == "framing" }) {
            query.append(URLQueryItem(name: "framing", value: "length"))
        }
        target = query.isEmpty ? path : path + "?" + query.map { item in item.value.map { "\(item.name)=\($0)" } ?? item.name }.joined(separator: "&")
        if let user = components.percentEncodedUser {
            let password = components.percentEncodedPassword ?? ""
            let pair = "\(user.removingPercentEncoding ?? user):\(password.removingPercentEncoding ?? password)"
            authorization = "Basic " + Data(pair.utf8).base64EncodedString()
        } else {
            authorization = nil
        }
        shown = Self.masked(components)
    }

    /// The URL without its password, nor a signed link's token.
    private static func masked(_ components: URLComponents) -> String {
        var shown = components
        if shown.percentEncodedPassword != nil { shown.percentEncodedPassword = "***" }
        if let items = shown.percentEncodedQueryItems {
            shown.percentEncodedQueryItems = items.map { item in
                ["token", "password", "pwd", "key"].contains(item.name.lowercased()) ? URLQueryItem(name: item.name, value: "***") : item
            }
        }
        return shown.string ?? "?"
    }

    /// Sends the GET of `target` on `channel` (HTTP/1.1 client handlers in its pipeline), with
    /// the credentials of the URL and `headers`.
    func sendRequest(on channel: any Channel, headers: [(String, String)]) {
        var head = HTTPRequestHead(version: .http1_1, method: .GET, uri: target)
        head.headers.add(name: "Host", value: hostHeader)
        head.headers.add(name: "User-Agent", value: "Framecast-relay")
        for (name, value) in headers { head.headers.add(name: name, value: value) }
        if let authorization { head.headers.add(name: "Authorization", value: authorization) }
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
    }

    /// `Host` header value.
    var hostHeader: String {
        let name = host.contains(":") ? "[\(host)]" : host
        return port == (secure ? 443 : 80) ? name : "\(name):\(port)"
    }
}

/// What `framecast check` knows of relay streams.
public enum RelayDescription {
    /// Whether a stream description is `relay:URL`.
    public static func isRelay(_ description: String) -> Bool {
        RelaySource.isRelay(description)
    }

    /// Throws when the URL cannot be relayed (not http or https, no host, a bad port).
    public static func validate(_ description: String) throws(PipelineError) {
        _ = try RelaySource(description: description)
    }
}

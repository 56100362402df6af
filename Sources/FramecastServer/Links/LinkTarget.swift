import Foundation

/// What a request asks of a stream, as far as a link token is concerned: the scope and the stream
/// name. Only the exact shapes of the picture routes have one; every other path (the page, the
/// API, `/ws`, `/metrics`, `/stream/` with more slashes) has none, so a token opens nothing there.
struct LinkTarget: Equatable, Sendable {
    let scope: LinkToken.Scope
    let stream: String

    /// `path` is the request's raw path; `action` its mjpg-streamer `?action=`; `names` the
    /// streams served, in name order (`/stream` alone and `?action=stream` mean the first,
    /// `stream_N` the N-th).
    static func of(path: String, action: String?, names: [String]) -> LinkTarget? {
        if path == "/", let action {
            guard case .success(let parsed) = MjpgStreamerAction.parse(action, streamCount: names.count) else { return nil }
            return LinkTarget(scope: parsed.verb == .stream ? .stream : .snapshot, stream: names[parsed.index])
        }
        for (prefix, scope) in [("/stream", LinkToken.Scope.stream), ("/snapshot", .snapshot)] {
            guard path.hasPrefix(prefix) else { continue }
            let rest = path.dropFirst(prefix.count)
            if rest.isEmpty {
                guard let first = names.first else { return nil }
                return LinkTarget(scope: scope, stream: first)
            }
            guard rest.first == "/" else { continue }
            let segment = rest.dropFirst()
            guard !segment.isEmpty, !segment.contains("/") else { return nil }
            // As the routes read it: percent-decoded, a rendition after `@` (`cam@thumb`).
            let decoded = String(segment).removingPercentEncoding ?? String(segment)
            let stream = decoded.split(separator: "@", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? decoded
            return LinkTarget(scope: scope, stream: stream)
        }
        return nil
    }
}

import Foundation
import Hummingbird
import HTTPTypes
import NIOCore

/// What a request's path and query name: a stream, or one of its renditions.
struct StreamTarget: Sendable {
    let supervisor: StreamSupervisor
    /// A rendition's viewer is leased as it is found (see `RenditionSet.acquire`); a stream's
    /// handler leases it itself, when it starts serving.
    let lease: ClientLease?

    /// The target's lease, or a new one on the stream.
    func takeLease() -> ClientLease { lease ?? supervisor.acquireClient() }
}

/// Why a name or a rendition cannot be served, as the response that says so.
struct StreamRefusal: Error {
    let status: HTTPResponse.Status
    let body: JSONError
    var retryAfter: Int?

    var response: Response {
        body.response(status: status, headers: retryAfter.map { [.retryAfter: "\($0)"] } ?? [:])
    }
}

extension StreamCatalog {
    /// Resolves `name` (nil: the first stream; `NAME@RENDITION`: a named rendition) and the
    /// rendition keys in `parameters` (`width`, `height`, `quality`, `crop`: an on-demand
    /// rendition). A rendition is created, or joined, here; `eventLoop` is the request's.
    func resolve(name: String?, parameters: (String) -> String?, on eventLoop: any EventLoop) async -> Result<StreamTarget, StreamRefusal> {
        // Stream names are URL-safe; a client that percent-encoded `@` (`encodeURIComponent`) means it.
        var streamName = name.map { $0.removingPercentEncoding ?? $0 } ?? first.name
        var renditionName: String?
        if let at = streamName.firstIndex(of: "@") {
            renditionName = String(streamName[streamName.index(after: at)...])
            streamName = String(streamName[..<at])
        }
        guard let supervisor = named(streamName) else {
            return .failure(StreamRefusal(status: .notFound, body: JSONError(error: "no stream named '\(EchoedText.printable(streamName, limit: 64))'", streams: names)))
        }
        let asked: RenditionRequest?
        switch RenditionRequest.parse(parameters) {
        case .success(let request): asked = request
        case .failure(let refusal): return .failure(StreamRefusal(status: .badRequest, body: JSONError(error: refusal.description)))
        }
        guard let set = renditions(of: streamName) else { return .success(StreamTarget(supervisor: supervisor, lease: nil)) }
        let request: RenditionRequest
        if let renditionName {
            guard let namedRequest = set.named[renditionName] else {
                let known = set.named.keys.sorted().map { "\(streamName)@\($0)" }
                return .failure(
                    StreamRefusal(
                        status: .notFound,
                        body: JSONError(error: "stream '\(streamName)' has no rendition named '\(EchoedText.printable(renditionName, limit: 64))'", streams: known)))
            }
            guard asked == nil else {
                return .failure(StreamRefusal(status: .badRequest, body: JSONError(error: "a named rendition takes no width, height, quality or crop")))
            }
            request = namedRequest
        } else if let asked {
            guard set.limit > 0 else {
                return .failure(StreamRefusal(status: .badRequest, body: JSONError(error: "this server makes no renditions (--max-renditions 0)")))
            }
            request = asked
        } else {
            return .success(StreamTarget(supervisor: supervisor, lease: nil))
        }
        switch await set.acquire(request, named: renditionName != nil, on: eventLoop) {
        case .success(.source):
            return .success(StreamTarget(supervisor: supervisor, lease: nil))
        case .success(.rendition(let rendition, let lease)):
            return .success(StreamTarget(supervisor: rendition, lease: lease))
        case .failure(.refused(let reason)):
            return .failure(StreamRefusal(status: .badRequest, body: JSONError(error: reason)))
        case .failure(.sourceDown(let reason)):
            return .failure(
                StreamRefusal(
                    status: .serviceUnavailable, body: JSONError(error: reason, state: supervisor.state),
                    retryAfter: max(1, Int(supervisor.settings.minimumRestartDelay))))
        case .failure(.tooMany(let live)):
            return .failure(
                StreamRefusal(
                    status: .serviceUnavailable,
                    body: JSONError(
                        error: "stream '\(streamName)' is at its limit of renditions (--max-renditions \(set.limit)): ask for one of those that exist",
                        renditions: live),
                    retryAfter: max(1, Int(supervisor.settings.idleTimeout))))
        case .failure(.tooFast):
            return .failure(
                StreamRefusal(
                    status: .serviceUnavailable,
                    body: JSONError(error: "renditions of stream '\(streamName)' are being made too fast: retry in a second"), retryAfter: 1))
        case .failure(.shuttingDown):
            return .failure(StreamRefusal(status: .serviceUnavailable, body: JSONError(error: "the server is shutting down")))
        }
    }
}

import Hummingbird
import HTTPTypes
import NIOCore
import Foundation

/// A JSON error body: `{"error": "...", ...details}`. Every error this server writes is JSON so
/// scripts and the page can show the reason.
struct JSONError: Encodable, Error {
    var error: String
    var state: StreamState?
    var lastError: String?
    var streams: [String]?
    /// The renditions alive, when there is no room for another.
    var renditions: [String]?
    /// A short code for scripts where the message alone would have to be parsed (a refused
    /// link: `expired`, `invalid-signature`, ...).
    var reason: String?

    func response(status: HTTPResponse.Status, headers extra: HTTPFields = [:]) -> Response {
        Response.json(self, status: status, headers: extra)
    }

    /// 404 for a stream name that is not served, listing the names that are.
    static func unknownStream(_ name: String, in catalog: StreamCatalog) -> Response {
        JSONError(error: "no stream named '\(name)'", streams: catalog.names).response(status: .notFound)
    }
}

extension Response {
    /// A JSON body that is never cached.
    static func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers extra: HTTPFields = [:]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data("{\"error\":\"internal\"}".utf8)
        var headers = extra
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

import Hummingbird
import HTTPTypes
import NIOCore
import Foundation

/// A JSON error body: `{"error": "...", ...details}`. Every error this server writes is JSON so
/// scripts and the page can show the reason.
struct JSONError: Encodable {
    var error: String
    var state: StreamState?
    var lastError: String?

    func response(status: HTTPResponse.Status, headers extra: HTTPFields = [:]) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(self)) ?? Data("{\"error\":\"internal\"}".utf8)
        var headers = extra
        headers[.contentType] = "application/json; charset=utf-8"
        headers[.cacheControl] = "no-store"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

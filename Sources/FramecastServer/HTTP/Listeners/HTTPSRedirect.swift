import HTTPTypes
import HummingbirdCore
import NIOCore
import Synchronization

/// `--redirect-http PORT`: every request on that plain-HTTP port is answered with a permanent
/// redirect to the same path and query over HTTPS, on the host the request named (already
/// checked by the request gate: a name the server does not answer to is refused, not redirected).
/// 308 keeps the method; browsers follow it for pages, images and streams alike.
struct HTTPSRedirect: Sendable {
    /// The HTTPS port, known once its listener is bound (`--port 0` picks one).
    let httpsPort: HTTPSPort

    var responder: HTTPChannelHandler.Responder {
        let httpsPort = self.httpsPort
        let date = HTTPDateHeader()
        return { request, responseWriter, _ in
            var response = Self.answer(request.head, httpsPort: httpsPort.value)
            response.headerFields[.date] = date.value
            response.headerFields[.server] = "Framecast"
            response.headerFields[.contentLength] = "0"
            try await responseWriter.writeResponse(response)
        }
    }

    /// The redirect for `request`, or the gate's refusal; pure, for tests.
    static func answer(_ request: HTTPRequest, httpsPort: Int) -> HTTPResponse {
        if let refusal = request.headerFields[HTTPField.Name(RequestGate.refusalHeader)!] {
            var response = HTTPResponse(status: .init(code: Int(refusal.prefix(3)) ?? 400))
            response.headerFields[.connection] = "close"
            return response
        }
        // `OPTIONS *` and `CONNECT host:port` name no path to redirect to.
        guard let path = request.path, path.hasPrefix("/") else { return HTTPResponse(status: .badRequest) }
        guard let host = request.authority ?? request.headerFields[HTTPField.Name("Host")!], let name = HostPolicy.hostName(of: host) else {
            return HTTPResponse(status: .badRequest)
        }
        let port = httpsPort == 443 ? "" : ":\(httpsPort)"
        var response = HTTPResponse(status: .permanentRedirect)
        response.headerFields[.location] = "https://\(name)\(port)\(path)"
        return response
    }
}

/// The HTTPS listener's port, set when it is bound.
final class HTTPSPort: Sendable {
    private let port: Atomic<Int>

    init(_ port: Int) {
        self.port = Atomic(port)
    }

    var value: Int { port.load(ordering: .relaxed) }

    func set(_ value: Int) {
        port.store(value, ordering: .relaxed)
    }
}

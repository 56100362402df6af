import Hummingbird
import HTTPTypes
import NIOCore
import ServiceLifecycle

/// `GET /stream`: the live multipart stream of one supervisor's frames.
struct StreamController<Context: RequestContext> {
    let supervisor: StreamSupervisor

    func addRoutes(to router: Router<Context>) {
        router.get("/stream") { request, _ in try stream(request) }
    }

    private static var accelBuffering: HTTPField.Name { HTTPField.Name("X-Accel-Buffering")! }

    func stream(_ request: Request) throws -> Response {
        let requested = request.uri.queryParameters["framing"].map(String.init)
        guard let framing = StreamFraming.choose(userAgent: request.headers[.userAgent], requested: requested) else {
            return JSONError(error: "unknown framing '\(requested ?? "")': use framing=length or framing=early")
                .response(status: .badRequest)
        }
        let supervisor = self.supervisor
        let framer = supervisor.framer
        var headers = HTTPFields()
        headers[.contentType] = framer.contentType
        headers[.cacheControl] = "no-store, no-cache, must-revalidate, max-age=0"
        headers[Self.accelBuffering] = "no"

        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // Subscribe here, inside the body: a response that is never sent leaves nothing behind.
            let lease = supervisor.acquireClient()
            defer { lease.release() }
            let frames = supervisor.hub.subscribe()
            // Cancelled as soon as the client closes its side, so a departed client is removed at
            // once even when no frame is being written.
            try await request.body.consumeWithCancellationOnInboundClose { _ in
                try await writer.write(framer.opening(framing))
                for await frame in frames.cancelOnGracefulShutdown() {
                    try await writer.write(frame.part(for: framing))
                }
            }
            // The frames ended without the client leaving: the server is shutting down.
            try Task.checkCancellation()
            try await writer.write(framer.closing(framing))
            try await writer.finish(nil)
        })
    }
}

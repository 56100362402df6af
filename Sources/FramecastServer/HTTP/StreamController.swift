import CoreMetrics
import Hummingbird
import HTTPTypes
import NIOCore
import ServiceLifecycle

/// `GET /stream` (the first stream) and `GET /stream/NAME`: live multipart streams.
///
/// Hummingbird writes the response head and the stream's opening; from then on the connection is
/// a consumer of the stream's hub that writes every frame itself (see `MultipartConnection`), and
/// the response body only waits for the client to leave, or for shutdown, when it writes the
/// closing boundary.
struct StreamController<Context: ChannelRequestContext> {
    let catalog: StreamCatalog
    let budget: ClientBudget
    let delivery: MultipartDelivery

    func addRoutes(to router: Router<Context>) {
        router.get("/stream") { request, context in await stream(request, name: nil, context: context) }
        router.get("/stream/:name") { request, context in
            await stream(request, name: context.parameters.get("name") ?? "", context: context)
        }
    }

    private static var accelBuffering: HTTPField.Name { HTTPField.Name("X-Accel-Buffering")! }

    /// `name`: a stream, `NAME@RENDITION`, or nil for the first stream; the query may ask for a
    /// rendition (`?width=`, `?height=`, `?quality=`, `?crop=`).
    func stream(_ request: Request, name: String?, context: Context) async -> Response {
        let requested = request.uri.queryParameters["framing"].map(String.init)
        guard let framing = Self.framing(userAgent: request.headers[.userAgent], requested: requested) else {
            return JSONError(error: "unknown framing '\(requested ?? "")': use framing=length or framing=early")
                .response(status: .badRequest)
        }
        let fps: Double?
        switch ClientRateLimit.parse(request.uri.queryParameters["fps"].map(String.init)) {
        case .success(let value): fps = value
        case .failure(let error): return error.response(status: .badRequest)
        }
        guard let ticket = budget.admit() else {
            return budget.refusal().response(status: .serviceUnavailable, headers: [.retryAfter: "5"])
        }
        // After admission: a refused client never starts a rendition.
        let target: StreamTarget
        switch await catalog.resolve(name: name, parameters: { request.uri.queryParameters[Substring($0)].map(String.init) }, on: context.channel.eventLoop) {
        case .success(let resolved): target = resolved
        case .failure(let refusal):
            ticket.release()
            return refusal.response
        }
        let supervisor = target.supervisor
        let delivery = self.delivery
        let channel = context.channel
        let metrics = supervisor.metrics
        var headers = HTTPFields()
        headers[.contentType] = MultipartFraming.contentType
        headers[.cacheControl] = "no-store, no-cache, must-revalidate, max-age=0"
        headers[Self.accelBuffering] = "no"

        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // Leased here, inside the body: a response that is never sent leaves nothing behind
            // (a rendition's lease, taken when it was found, goes with the dropped response).
            let lease = target.takeLease()
            defer {
                lease.release()
                ticket.release()
            }
            let opening = MultipartFraming.opening(framing)
            try await writer.write(opening)
            metrics.bytesSent.increment(by: opening.readableBytes)
            // Attached after the opening was handed to the connection: the frames' writes, issued
            // on the same event loop, follow it.
            let session = try await delivery.attach(channel: channel, to: supervisor, framing: framing, fps: fps).get()
            let end = try await withGracefulShutdownHandler {
                try await withTaskCancellationHandler {
                    try await session.ended.get()
                } onCancel: {
                    session.stop()
                }
            } onGracefulShutdown: {
                session.stop()
            }
            // The client left: nothing more can be written.
            guard end == .stopped else { throw CancellationError() }
            try Task.checkCancellation()
            try await writer.write(MultipartFraming.closing(framing))
            try await writer.finish(nil)
        })
    }

    /// Browsers get early framing, everything else length framing; `?framing=` overrides. Nil for
    /// an unknown `?framing=`.
    static func framing(userAgent: String?, requested: String?) -> StreamFraming? {
        if let requested { return StreamFraming(rawValue: requested) }
        // Every browser's User-Agent starts with "Mozilla/"; ffmpeg (Lavf), GStreamer, VLC, curl
        // and HTTP libraries do not claim it.
        if let userAgent, userAgent.hasPrefix("Mozilla/") { return .early }
        return .length
    }
}

import CoreMetrics
import Dispatch
import Hummingbird
import HTTPTypes
import NIOCore
import ServiceLifecycle

/// Written after each part to wait for the connection to drain; one shared value, so the per-frame
/// path allocates nothing for it.
private let emptyBuffer = ByteBuffer()

/// `GET /stream` (the first stream) and `GET /stream/NAME`: live multipart streams.
struct StreamController<Context: RequestContext> {
    let catalog: StreamCatalog
    let budget: ClientBudget

    func addRoutes(to router: Router<Context>) {
        router.get("/stream") { request, _ in stream(request, catalog.first) }
        router.get("/stream/:name") { request, context in
            let name = context.parameters.get("name") ?? ""
            guard let supervisor = catalog.named(name) else { return JSONError.unknownStream(name, in: catalog) }
            return stream(request, supervisor)
        }
    }

    private static var accelBuffering: HTTPField.Name { HTTPField.Name("X-Accel-Buffering")! }
    private static var drained: ByteBuffer { emptyBuffer }

    func stream(_ request: Request, _ supervisor: StreamSupervisor) -> Response {
        let requested = request.uri.queryParameters["framing"].map(String.init)
        guard let framing = StreamFraming.choose(userAgent: request.headers[.userAgent], requested: requested) else {
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
        let framer = supervisor.framer
        let metrics = supervisor.metrics
        var headers = HTTPFields()
        headers[.contentType] = framer.contentType
        headers[.cacheControl] = "no-store, no-cache, must-revalidate, max-age=0"
        headers[Self.accelBuffering] = "no"

        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            // Subscribe here, inside the body: a response that is never sent leaves nothing behind.
            let lease = supervisor.acquireClient()
            defer {
                lease.release()
                ticket.release()
            }
            let subscription = supervisor.hub.open()
            var limit = ClientRateLimit(fps: fps)
            var lastSequence: UInt64 = 0
            // Cancelled as soon as the client closes its side, so a departed client is removed at
            // once even when no frame is being written.
            try await request.body.consumeWithCancellationOnInboundClose { _ in
                let opening = framer.opening(framing)
                try await writer.write(opening)
                metrics.bytesSent.increment(by: opening.readableBytes)
                // At shutdown the subscription ends and the loop with it. (A handler registered once
                // per client, not `cancelOnGracefulShutdown()`, which merges two sequences and
                // costs a task hop on every frame.)
                try await withGracefulShutdownHandler {
                    for await frame in subscription.frames {
                        guard limit.admit() else { continue }
                        let part = frame.part(for: framing)
                        try await writer.write(part)
                        // Returns only once the connection has room again (an empty write frames no
                        // chunk, but waits for writability like any other): the next frame is taken
                        // from the hub after the previous one has nearly left, so a slow client gets
                        // the newest frame, not one that waited behind the previous.
                        try await writer.write(Self.drained)
                        metrics.framesSent.increment()
                        metrics.bytesSent.increment(by: part.readableBytes)
                        if !frame.isPlaceholder, frame.sequence != lastSequence {
                            // Repeats of an old frame would only measure how long the scene was still.
                            lastSequence = frame.sequence
                            let microseconds = WallClock.now().microseconds - frame.capturedAt.microseconds
                            metrics.delivery.recordNanoseconds(max(0, microseconds) * 1000)
                        }
                    }
                } onGracefulShutdown: {
                    subscription.end()
                }
            }
            // The frames ended without the client leaving: the server is shutting down.
            try Task.checkCancellation()
            try await writer.write(framer.closing(framing))
            try await writer.finish(nil)
        })
    }
}

import Hummingbird
import HTTPTypes
import NIOCore

/// `GET /snapshot` (the first stream) and `GET /snapshot/NAME`: the newest frame as a JPEG, fresh.
/// A stopped pipeline is started and a frame captured after the request awaited; `?max_age=MS`
/// accepts the newest frame if it is at most that old; a failing stream answers 503 with the reason.
struct SnapshotController<Context: ChannelRequestContext> {
    let catalog: StreamCatalog

    func addRoutes(to router: Router<Context>) {
        router.get("/snapshot") { request, context in await snapshot(request, name: nil, context: context) }
        router.get("/snapshot/:name") { request, context in
            await snapshot(request, name: context.parameters.get("name") ?? "", context: context)
        }
    }

    /// `name`: a stream, `NAME@RENDITION`, or nil for the first stream; the query may ask for a
    /// rendition as `/stream` does.
    func snapshot(_ request: Request, name: String?, context: Context) async -> Response {
        let requestedAt = WallClock.now()
        var maxAge: Int64?
        if let text = request.uri.queryParameters["max_age"].map(String.init) {
            switch Limits.maxAge.parseWhole(text) {
            case .success(let milliseconds): maxAge = Int64(milliseconds)
            case .failure(let refusal):
                return JSONError(error: refusal.description + " (0 asks for a frame captured after the request)").response(status: .badRequest)
            }
        }
        let target: StreamTarget
        switch await catalog.resolve(name: name, parameters: { request.uri.queryParameters[Substring($0)].map(String.init) }, on: context.channel.eventLoop) {
        case .success(let resolved): target = resolved
        case .failure(let refusal): return refusal.response
        }
        let supervisor = target.supervisor
        // The lease starts a stopped or failed pipeline at once: the state reads `starting` below.
        let lease = target.takeLease()
        defer { lease.release() }
        let current = supervisor.status()
        if current.state == .restarting || current.state == .error {
            // A failing camera gets a clear error, never a stale picture or the placeholder.
            return JSONError(
                error: "the pipeline is down (\(current.state.rawValue)): \(current.lastError?.message ?? "no frame")",
                state: current.state, lastError: current.lastError?.message
            ).response(status: .serviceUnavailable, headers: [.retryAfter: "\(max(1, Int(supervisor.settings.minimumRestartDelay)))"])
        }

        let frame: Frame?
        let oldestAccepted = WallClock.Instant(microseconds: requestedAt.microseconds - (maxAge ?? 0) * 1000)
        if let live = supervisor.liveFrame(), maxAge.map({ _ in live.capturedAt >= oldestAccepted }) ?? true {
            frame = live
        } else {
            frame = await SnapshotWaiter.frame(
                from: supervisor.hub, capturedAfter: oldestAccepted, timeout: supervisor.settings.snapshotTimeout, on: context.channel.eventLoop)
        }
        guard let frame else {
            let status = supervisor.status()
            let seconds = supervisor.settings.snapshotTimeout
            if let lastError = status.lastError, status.state == .restarting || status.state == .error {
                // The run it waited on failed.
                return JSONError(
                    error: "the pipeline is down (\(status.state.rawValue)): \(lastError.message)", state: status.state, lastError: lastError.message
                ).response(status: .serviceUnavailable, headers: [.retryAfter: "\(max(1, Int(supervisor.settings.minimumRestartDelay)))"])
            }
            return JSONError(
                error: "no frame within \(seconds.formatted()) s (pipeline \(status.state.rawValue))",
                state: status.state,
                lastError: status.lastError?.message
            ).response(status: .serviceUnavailable, headers: [.retryAfter: "\(max(1, Int(seconds)))"])
        }
        var headers = HTTPFields()
        headers[.contentType] = "image/jpeg"
        headers[.cacheControl] = "no-store"
        headers[HTTPField.Name("X-Timestamp")!] = frame.capturedAt.headerValue
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: frame.jpeg))
    }
}


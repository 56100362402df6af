import Hummingbird
import HTTPTypes
import NIOCore

/// `GET /snapshot`: the newest frame as a JPEG, fresh: a stopped pipeline is started and a frame
/// captured after the request is awaited; a failing one answers 503 with the reason.
struct SnapshotController<Context: RequestContext> {
    let supervisor: StreamSupervisor

    func addRoutes(to router: Router<Context>) {
        router.get("/snapshot") { _, _ in await snapshot() }
    }

    func snapshot() async -> Response {
        let requestedAt = WallClock.now()
        let lease = supervisor.acquireClient()
        defer { lease.release() }
        let frame: Frame?
        if let live = supervisor.liveFrame() {
            frame = live
        } else {
            frame = await supervisor.frame(capturedAfter: requestedAt, timeout: supervisor.settings.snapshotTimeout)
        }
        guard let frame else {
            let status = supervisor.status()
            let seconds = supervisor.settings.snapshotTimeout
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

extension Double {
    /// "5" for whole numbers, "2.5" otherwise.
    fileprivate func formatted() -> String {
        self == rounded() ? String(Int(self)) : String(self)
    }
}

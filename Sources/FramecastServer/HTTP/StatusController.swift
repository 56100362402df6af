public import Hummingbird

extension StreamStatus: ResponseEncodable {}

/// `GET /api/status`: the stream's state as JSON.
struct StatusController<Context: RequestContext> {
    let supervisor: StreamSupervisor

    func addRoutes(to router: Router<Context>) {
        router.get("/api/status") { _, _ in supervisor.status() }
    }
}

public import Hummingbird

extension StreamStatus: ResponseEncodable {}

/// `GET /api/status` (the first stream), `GET /api/streams` (every stream) and
/// `GET /api/streams/NAME`.
struct StatusController<Context: RequestContext> {
    let catalog: StreamCatalog

    func addRoutes(to router: Router<Context>) {
        router.get("/api/status") { _, _ in catalog.first.status() }
        router.get("/api/streams") { _, _ in StreamList(streams: catalog.streams.map { $0.status() }) }
        router.get("/api/streams/:name") { _, context -> Response in
            let name = context.parameters.get("name") ?? ""
            guard let supervisor = catalog.named(name) else { return JSONError.unknownStream(name, in: catalog) }
            return Response.json(supervisor.status())
        }
    }
}

struct StreamList: ResponseEncodable {
    var streams: [StreamStatus]
}

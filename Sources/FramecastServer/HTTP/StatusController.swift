public import Hummingbird

extension StreamStatus: ResponseEncodable {}

/// `GET /api/status` (the first stream), `GET /api/streams` (every stream) and
/// `GET /api/streams/NAME`.
struct StatusController<Context: RequestContext> {
    let catalog: StreamCatalog
    let budget: ClientBudget
    /// `POST /api/links` makes links (`--link-key-file`): the page offers to copy one.
    var linksAvailable = false

    func addRoutes(to router: Router<Context>) {
        router.get("/api/status") { _, _ in
            var status = catalog.first.status()
            status.serverClients = budget.current
            status.maxClients = budget.limit
            return status
        }
        router.get("/api/streams") { _, _ in
            StreamList(
                streams: catalog.streams.map(catalog.status(of:)), clients: budget.current, maxClients: budget.limit, links: linksAvailable)
        }
        // For load balancers and supervisors: no authentication, and it reveals nothing.
        router.get("/healthz") { _, _ in Response.json(["status": "ok"]) }
        router.get("/api/streams/:name") { _, context -> Response in
            let name = context.parameters.get("name") ?? ""
            guard let supervisor = catalog.named(name) else { return JSONError.unknownStream(name, in: catalog) }
            return Response.json(catalog.status(of: supervisor))
        }
    }
}

struct StreamList: ResponseEncodable {
    var streams: [StreamStatus]
    /// Streaming clients of the whole server, and its limit.
    var clients: Int
    var maxClients: Int
    /// Whether `POST /api/links` makes signed links.
    var links: Bool
}

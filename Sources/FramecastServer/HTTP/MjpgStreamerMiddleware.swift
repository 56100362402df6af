import Hummingbird

/// mjpg-streamer's URLs, which OctoPrint, Mainsail, Fluidd, Home Assistant and many scripts are
/// configured with: `/?action=stream`, `/?action=snapshot`, and `_N` suffixes (`stream_1`) for the
/// N-th stream in name order, counted from 0 as mjpg-streamer counts its inputs.
struct MjpgStreamerMiddleware<Context: ChannelRequestContext>: RouterMiddleware {
    let catalog: StreamCatalog
    let streams: StreamController<Context>
    let snapshots: SnapshotController<Context>

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.uri.path == "/", let action = request.uri.queryParameters["action"].map(String.init) else {
            return try await next(request, context)
        }
        switch MjpgStreamerAction.parse(action, streamCount: catalog.streams.count) {
        case .success(let parsed):
            let name = catalog.streams[parsed.index].name
            switch parsed.verb {
            case .stream: return await streams.stream(request, name: name, context: context)
            case .snapshot: return await snapshots.snapshot(request, name: name, context: context)
            }
        case .failure(.noSuchStream(let number, let count)):
            return JSONError(error: "no stream number \(number) (there are \(count))", streams: catalog.names).response(status: .notFound)
        case .failure(.unknownAction):
            return JSONError(error: "unknown action: use stream, snapshot, stream_N or snapshot_N").response(status: .badRequest)
        }
    }
}

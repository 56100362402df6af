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
        let (verb, index) = Self.split(action)
        guard let index, index < catalog.streams.count else {
            return JSONError(error: "no stream number \(action.split(separator: "_").last ?? "") (there are \(catalog.streams.count))", streams: catalog.names)
                .response(status: .notFound)
        }
        let supervisor = catalog.streams[index]
        switch verb {
        case "stream": return streams.stream(request, supervisor, context: context)
        case "snapshot": return await snapshots.snapshot(request, supervisor)
        default:
            return JSONError(error: "unknown action '\(action)': use stream, snapshot, stream_N or snapshot_N")
                .response(status: .badRequest)
        }
    }

    /// "stream" → ("stream", 0); "snapshot_2" → ("snapshot", 2); "stream_x" → ("stream", nil).
    static func split(_ action: String) -> (String, Int?) {
        guard let underscore = action.lastIndex(of: "_") else { return (action, 0) }
        let suffix = action[action.index(after: underscore)...]
        return (String(action[..<underscore]), Int(suffix).flatMap { $0 >= 0 ? $0 : nil })
    }
}

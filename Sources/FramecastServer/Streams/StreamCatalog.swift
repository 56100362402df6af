/// Every stream the server serves, in name order (the order of mjpg-streamer's `_N` suffixes;
/// the first answers `/stream` and `/snapshot`).
public final class StreamCatalog: Sendable {
    public let streams: [StreamSupervisor]
    private let byName: [String: StreamSupervisor]

    init(_ streams: [StreamSupervisor]) {
        precondition(!streams.isEmpty, "a server needs at least one stream")
        self.streams = streams.sorted { $0.name < $1.name }
        self.byName = Dictionary(uniqueKeysWithValues: streams.map { ($0.name, $0) })
    }

    public var first: StreamSupervisor { streams[0] }
    public var names: [String] { streams.map(\.name) }

    public func named(_ name: String) -> StreamSupervisor? { byName[name] }
}

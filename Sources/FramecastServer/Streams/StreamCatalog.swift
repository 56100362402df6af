/// Every stream the server serves, in name order (the order of mjpg-streamer's `_N` suffixes;
/// the first answers `/stream` and `/snapshot`), and each one's renditions.
public final class StreamCatalog: Sendable {
    public let streams: [StreamSupervisor]
    private let byName: [String: StreamSupervisor]
    private let renditionSets: [String: RenditionSet]

    init(_ streams: [StreamSupervisor], renditions: (StreamSupervisor) -> RenditionSet) {
        precondition(!streams.isEmpty, "a server needs at least one stream")
        self.streams = streams.sorted { $0.name < $1.name }
        self.byName = Dictionary(uniqueKeysWithValues: streams.map { ($0.name, $0) })
        self.renditionSets = Dictionary(uniqueKeysWithValues: streams.map { ($0.name, renditions($0)) })
    }

    public var first: StreamSupervisor { streams[0] }
    public var names: [String] { streams.map(\.name) }

    public func named(_ name: String) -> StreamSupervisor? { byName[name] }

    /// The renditions of the stream named `name`.
    public func renditions(of name: String) -> RenditionSet? { renditionSets[name] }

    /// A stream's status with its live renditions.
    public func status(of supervisor: StreamSupervisor) -> StreamStatus {
        var status = supervisor.status()
        status.renditions = renditionSets[supervisor.name]?.status()
        return status
    }

    /// Stops every rendition (server shutdown; the streams stop as services of their own).
    func shutdownRenditions() async {
        for set in renditionSets.values { await set.shutdown() }
    }
}

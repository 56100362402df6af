/// One stream's status as served by `/api/status`.
public struct StreamStatus: Sendable, Codable, Equatable {
    public struct LastError: Sendable, Codable, Equatable {
        public var element: String?
        public var message: String
        public var debug: String?
        /// Seconds since the Unix epoch.
        public var at: Double
    }

    public var name: String
    public var pipeline: String
    public var state: StreamState
    /// Measured input frame rate over the last frames (0 unless playing; see `InputRateMeter`).
    public var fps: Double
    public var width: Int?
    public var height: Int?
    public var lastFrameBytes: Int?
    /// Seconds since the newest frame left the pipeline.
    public var lastFrameAgeSeconds: Double?
    public var clients: Int
    public var framesPublished: UInt64
    public var restarts: Int
    public var lastError: LastError?
    public var uptimeSeconds: Double
    /// Streaming clients of the whole server and its `--max-clients` (in `/api/status` only).
    public var serverClients: Int?
    public var maxClients: Int?
    /// The stream's live renditions (`/api/streams` and `/api/streams/NAME`).
    public var renditions: [RenditionStatus]?
    /// A relay's upstream (`relay:URL` streams only).
    public var relay: RelayStatus?
}

/// Everything `buildApplication` needs, filled from the command line (or by tests).
public struct ServerConfiguration: Sendable {
    /// The gst-launch description to serve.
    public var pipeline: String
    public var host = "127.0.0.1"
    /// 0 picks a free port (tests); the bound port is passed to `onServerRunning`.
    public var port = 8080
    /// Absolute path of the page's folder, or nil to serve no page.
    public var webRoot: String?
    public var stream = StreamSettings()

    public init(pipeline: String) {
        self.pipeline = pipeline
    }
}

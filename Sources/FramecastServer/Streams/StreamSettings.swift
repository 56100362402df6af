/// How one stream's pipeline is run. Kept apart from runtime state.
public struct StreamSettings: Sendable {
    /// Seconds without clients before the pipeline is set to NULL (the camera is released).
    public var idleTimeout: Double = 10
    /// Keep the pipeline running with no clients.
    public var alwaysOn = false
    /// First restart delay after an error or end-of-stream; doubles per consecutive failure.
    public var minimumRestartDelay: Double = 1
    public var maximumRestartDelay: Double = 30
    /// How long a snapshot waits for a frame captured after the request.
    public var snapshotTimeout: Double = 5
    /// With no new frame for this long, the newest frame is sent again.
    public var repeatInterval: Double = 1
    /// Seconds without a frame from a playing pipeline before it counts as failed (a camera that
    /// stopped delivering without an error) and is restarted.
    public var frameTimeout: Double = 5
    /// Frames dropped after each start of the pipeline (cameras send dark frames while their
    /// auto-exposure settles).
    public var warmupFrames = 0

    public init() {}
}

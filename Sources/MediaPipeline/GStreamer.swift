import CGst

/// Process-wide GStreamer set-up.
public enum GStreamer {
    /// `gst_init` must run once before any other call; a Swift global `let` is initialised
    /// exactly once, thread-safely, on first use.
    private static let initialised: Bool = {
        gst_init(nil, nil)
        return true
    }()

    /// Initialises GStreamer if that has not happened yet. Safe to call from any thread.
    public static func initialize() {
        _ = initialised
    }

    /// Shuts GStreamer down (`gst_deinit`): the leak tracer (`GST_TRACERS=leaks`) reports the objects
    /// still alive at this point. For leak checking only: no GStreamer call may follow, in this
    /// process (`initialize()` does not initialise it again), so every `Pipeline` must be freed first
    /// (see `Pipeline.liveCount`).
    public static func deinitialize() {
        initialize()
        gst_deinit()
    }

    /// The version of the GStreamer library this process runs, e.g. "GStreamer 1.22.0".
    public static var version: String {
        initialize()
        guard let text = gst_version_string() else { return "GStreamer (unknown version)" }
        defer { g_free(text) }
        return String(cString: text)
    }
}

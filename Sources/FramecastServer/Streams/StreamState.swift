/// Where a stream's pipeline is in its lifecycle, as shown in status.
public enum StreamState: String, Sendable, Codable, CaseIterable {
    /// No pipeline (no clients, or never started).
    case idle
    /// Set to PLAYING, no frame yet.
    case starting
    /// Frames are flowing.
    case playing
    /// Failed; a restart is scheduled (clients stay connected).
    case restarting
    /// Failed with nobody watching; the next client starts it again.
    case error
}

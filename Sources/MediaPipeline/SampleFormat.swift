/// What the appsink says about a sample besides its bytes.
public struct SampleFormat: Sendable, Equatable {
    /// Picture size from the sample's caps; 0 when the caps do not carry it.
    public let width: Int
    public let height: Int
    /// The buffer's presentation timestamp in nanoseconds, nil when it has none. A rendition's
    /// pipeline stamps each picture with its source frame's capture time (see `RenditionEncoder`).
    public let presentationTimestamp: UInt64?

    public init(width: Int, height: Int, presentationTimestamp: UInt64? = nil) {
        self.width = width
        self.height = height
        self.presentationTimestamp = presentationTimestamp
    }
}

/// Receives each JPEG on the appsink's streaming thread. The bytes are valid only during the
/// call: copy what you keep. Must not block: the pipeline waits for it.
public typealias SampleHandler = @Sendable (UnsafeRawBufferPointer, SampleFormat) -> Void

/// Receives bus events on whichever GStreamer thread posted them. Must not block.
public typealias BusEventHandler = @Sendable (BusEvent) -> Void

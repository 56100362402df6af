/// What the appsink says about a sample besides its bytes.
public struct SampleFormat: Sendable, Equatable {
    /// Picture size from the sample's caps; 0 when the caps do not carry it.
    public let width: Int
    public let height: Int
    /// The buffer's presentation timestamp in nanoseconds, nil when it has none. A rendition's
    /// pipeline stamps each picture with its source frame's capture time (see `RenditionEncoder`).
    public let presentationTimestamp: UInt64?
    /// A picture standing in for the camera (a relayed origin's NO SIGNAL): published as a
    /// placeholder, never as a frame of the camera. Pipelines never set it.
    public let isPlaceholder: Bool

    public init(width: Int, height: Int, presentationTimestamp: UInt64? = nil, isPlaceholder: Bool = false) {
        self.width = width
        self.height = height
        self.presentationTimestamp = presentationTimestamp
        self.isPlaceholder = isPlaceholder
    }
}

/// Receives each JPEG on the appsink's streaming thread. The bytes are valid only during the
/// call: copy what you keep. Must not block: the pipeline waits for it.
public typealias SampleHandler = @Sendable (UnsafeRawBufferPointer, SampleFormat) -> Void

/// Receives bus events on whichever GStreamer thread posted them. Must not block.
public typealias BusEventHandler = @Sendable (BusEvent) -> Void

/// What the appsink says about a sample besides its bytes.
public struct SampleFormat: Sendable, Equatable {
    /// Picture size from the sample's caps; 0 when the caps do not carry it.
    public let width: Int
    public let height: Int

    public init(width: Int, height: Int) {
        self.width = width
        self.height = height
    }
}

/// Receives each JPEG on the appsink's streaming thread. The bytes are valid only during the
/// call: copy what you keep. Must not block: the pipeline waits for it.
public typealias SampleHandler = @Sendable (UnsafeRawBufferPointer, SampleFormat) -> Void

/// Receives bus events on whichever GStreamer thread posted them. Must not block.
public typealias BusEventHandler = @Sendable (BusEvent) -> Void

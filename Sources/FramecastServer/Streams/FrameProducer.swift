import MediaPipeline

/// What a supervisor runs for one run of its stream: a camera's pipeline, or a rendition's encoder
/// fed with another stream's frames. Built per run, played once, stopped once.
protocol FrameProducer: AnyObject, Sendable {
    /// Starts producing; throws when it cannot.
    func play() throws(PipelineError)
    /// Stops for good; blocking until no more samples are delivered.
    func stop()
}

extension Pipeline: FrameProducer {}

/// How a run's producer reports back to its supervisor.
struct ProducerCallbacks: Sendable {
    let onSample: SampleHandler
    let onBusEvent: BusEventHandler
    /// Alive without a frame to publish (see `StreamLifecycle.alive`).
    let onAlive: @Sendable () -> Void
    /// A raw picture of a pipeline that offers them (see `RawPictureTap`).
    let onRawPicture: RawPictureHandler
    /// Whether the stream has a client now (a rendition encodes nothing for nobody).
    let isWatched: @Sendable () -> Bool
}

/// Builds the producer of one run.
typealias ProducerFactory = @Sendable (ProducerCallbacks) throws(PipelineError) -> any FrameProducer

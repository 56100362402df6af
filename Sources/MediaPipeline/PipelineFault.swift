/// An error or warning that a running pipeline posted on its bus.
///
/// Carries what a user needs to act on it: which element said it (its path in the pipeline,
/// e.g. `/GstPipeline:pipeline0/GstV4l2Src:v4l2src0`), GStreamer's message, and the debug string
/// that usually names the device or the failing call.
public struct PipelineFault: Error, Sendable, Equatable, CustomStringConvertible {
    public let element: String?
    public let message: String
    public let debug: String?

    public init(element: String?, message: String, debug: String?) {
        self.element = element
        self.message = message
        self.debug = debug
    }

    public var description: String {
        var text = ""
        if let element { text += "\(element): " }
        text += message
        if let debug, !debug.isEmpty { text += " (\(debug))" }
        return text
    }
}

/// What the pipeline's bus reports to its owner. Delivered on a GStreamer thread, synchronously
/// from the bus sync handler: the receiver must not block.
public enum BusEvent: Sendable, Equatable {
    case error(PipelineFault)
    case warning(PipelineFault)
    case endOfStream
}

/// Why a pipeline description cannot be served. Each case's description says what is wrong
/// and what to change, because the person reading it is editing a pipeline file.
public enum PipelineError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The description is empty (or only comments).
    case empty
    /// `gst_parse_launch` rejected the syntax.
    case syntax(String)
    /// One or more elements are not installed.
    case missingElements([String], String)
    /// An element has no property of that name, or the value does not fit it.
    case badProperty(String)
    /// Two elements could not be linked.
    case link(String)
    /// No element is named `sink`.
    case noSink
    /// The element named `sink` is not an appsink.
    case sinkNotAppSink(String)
    /// What reaches the sink is not JPEG.
    case notJPEG(String)
    /// The pipeline could not be set to PLAYING.
    case cannotStart(String)
    /// A pipeline file could not be read.
    case unreadableFile(path: String, reason: String)
    /// A `${NAME}` could not be expanded.
    case variable(source: String, line: Int, name: String, problem: String)
    /// A `--set` assignment is malformed.
    case badAssignment(String, String)
    /// A rendition could not decode or push a frame of its source.
    case rendition(String)
    /// A relay's source (`relay:URL`) is not a URL it can read.
    case relay(String)

    public var description: String {
        let ending = "end the pipeline with `jpegenc ! appsink name=sink` (or `image/jpeg ! appsink name=sink` for a source that already gives JPEG)"
        switch self {
        case .empty:
            return "the pipeline description is empty: give a gst-launch description such as `videotestsrc is-live=true ! jpegenc ! appsink name=sink`"
        case .syntax(let message):
            return "the pipeline description does not parse: \(message). Try it by hand with `gst-launch-1.0 -v ...` (with `fakesink` in place of the appsink)"
        case .missingElements(let names, let message):
            let list = names.map { "`\($0)`" }.joined(separator: ", ")
            let subject = names.isEmpty ? message : "no GStreamer element named \(list) is installed"
            return "\(subject): check the spelling with `gst-inspect-1.0 NAME`, or install the plugin package that provides it (gstreamer1.0-plugins-good, -bad or -ugly)"
        case .badProperty(let message):
            return "\(message): list an element's properties and their ranges with `gst-inspect-1.0 ELEMENT`"
        case .link(let message):
            return "\(message): the formats of neighbouring elements do not match; a `videoconvert` (raw video) or a caps filter between them usually fixes it"
        case .noSink:
            return "the pipeline has no element named `sink`: \(ending)"
        case .sinkNotAppSink(let type):
            return "the element named `sink` is a \(type), not an appsink: \(ending)"
        case .notJPEG(let caps):
            return "the pipeline's output is `\(caps)`, not image/jpeg: \(ending)"
        case .cannotStart(let message):
            return "the pipeline could not start: \(message)"
        case .unreadableFile(let path, let reason):
            return "cannot read pipeline file \(path): \(reason)"
        case .variable(let source, let line, let name, let problem):
            return "\(source), line \(line): variable `\(name)` \(problem)"
        case .badAssignment(let assignment, let problem):
            return "--set \(assignment.debugDescription): \(problem)"
        case .rendition(let message):
            return "rendition: \(message)"
        case .relay(let message):
            return "relay: \(message)"
        }
    }
}

import Dispatch
import Logging
import MediaPipeline
import NIOCore
import Synchronization

/// The pictures a stream shows while its pipeline is down ("STARTING", "NO SIGNAL"), published
/// into its hub once per repeat interval.
///
/// Rendering runs a whole GStreamer pipeline, so it happens on a queue of its own (never the
/// stream's lifecycle queue, never under a lock), at most one at a time per stream, and the JPEG is
/// kept for as long as its size and text stay the same: a stream that is down for an hour renders
/// about once a minute (the age on the picture is in minutes), not once a second.
final class PlaceholderPictures: Sendable {
    /// Shared by every stream: rendering is rare and short.
    private static let renderQueue = DispatchQueue(label: "framecast.placeholder")

    private struct Picture: Equatable {
        let width: Int
        let height: Int
        let text: String
    }

    private struct State {
        var cached: (picture: Picture, jpeg: ByteBuffer)?
        var rendering = false
    }

    private let stream: String
    private let logger: Logger
    private let state = Mutex(State())

    init(stream: String, logger: Logger) {
        self.stream = stream
        self.logger = logger
    }

    /// Publishes the picture for `reason` into `hub`: at once when cached, else once rendered.
    func show(_ reason: StreamLifecycle.PlaceholderReason, width: Int, height: Int, lastFrameAt: WallClock.Instant?, on hub: FrameHub) {
        var lines = [reason == .starting ? "STARTING" : "NO SIGNAL", stream]
        if let lastFrameAt { lines.append("last frame \(Self.describe(age: lastFrameAt.seconds(until: WallClock.now())))") }
        let picture = Picture(width: width, height: height, text: lines.joined(separator: "\n"))
        enum Next { case publish(ByteBuffer), render, skip }
        let next = state.withLock { state -> Next in
            if let cached = state.cached, cached.picture == picture { return .publish(cached.jpeg) }
            // One rendering at a time: the next interval shows the newer picture.
            guard !state.rendering else { return .skip }
            state.rendering = true
            return .render
        }
        switch next {
        case .skip:
            return
        case .publish(let jpeg):
            publish(jpeg, picture, on: hub)
        case .render:
            Self.renderQueue.async {
                let rendered = PlaceholderRenderer.render(width: picture.width, height: picture.height, text: picture.text)
                let jpeg = rendered.map { ByteBuffer(bytes: $0) }
                self.state.withLock { state in
                    state.rendering = false
                    if let jpeg { state.cached = (picture, jpeg) }
                }
                guard let jpeg else {
                    self.logger.debug("could not render the placeholder picture")
                    return
                }
                self.publish(jpeg, picture, on: hub)
            }
        }
    }

    private func publish(_ jpeg: ByteBuffer, _ picture: Picture, on hub: FrameHub) {
        let frame = Frame(
            stream: stream, sequence: 0, capturedAt: WallClock.now(), width: picture.width, height: picture.height, isPlaceholder: true,
            jpeg: jpeg)
        // Refused when a real frame arrived meanwhile: the camera is back.
        hub.publishPlaceholder(frame)
    }

    /// "under a minute ago", "12 min ago", "2 h 4 min ago": coarse, so the picture changes (and is
    /// rendered again) at most once a minute.
    static func describe(age seconds: Double) -> String {
        let total = seconds.isFinite ? Int(min(max(0, seconds), 1e12)) : 0
        if total < 60 { return "under a minute ago" }
        if total < 3600 { return "\(total / 60) min ago" }
        return "\(total / 3600) h \(total % 3600 / 60) min ago"
    }
}

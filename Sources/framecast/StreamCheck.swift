import FramecastServer
import MediaPipeline

/// The check that `framecast check` and `framecast serve --check` run on each stream's pipeline.
enum StreamCheck {
    enum Outcome {
        /// It parses and validates; not run (no probe was asked for).
        case valid
        /// It parses and validates; not run, because a source opens a device.
        case opensDevice
        /// It ran until this first frame.
        case firstFrame(PipelineProbe.FirstFrame)
        /// Why it cannot be served.
        case failed(String)
    }

    /// Parses and validates `pipeline`. With a `probeTimeout`, then runs it until its first frame
    /// (for at most that many seconds) unless a source opens a device.
    static func run(_ pipeline: String, probeTimeout: Double?) async -> Outcome {
        do throws(PipelineError) {
            if RelayDescription.isRelay(pipeline) {
                // No pipeline to run: the URL is checked, the origin is reached only by viewers.
                try RelayDescription.validate(pipeline)
                return .valid
            }
            try Pipeline.validate(pipeline)
            guard let probeTimeout else { return .valid }
            if try Pipeline.opensDevice(pipeline) { return .opensDevice }
            switch await PipelineProbe.firstFrame(of: pipeline, timeout: probeTimeout) {
            case .success(let frame): return .firstFrame(frame)
            case .failure(let failure): return .failed(failure.description)
            }
        } catch {
            return .failed(error.description)
        }
    }
}

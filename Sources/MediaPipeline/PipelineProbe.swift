import Synchronization

/// Runs a pipeline until its first frame: what `framecast check` reports for each stream.
public enum PipelineProbe {
    public struct FirstFrame: Sendable {
        public let format: SampleFormat
        public let bytes: Int
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case invalid(PipelineError)
        case failed(PipelineFault)
        case endedWithoutFrame
        case noFrame(seconds: Double)

        public var description: String {
            switch self {
            case .invalid(let error): error.description
            case .failed(let fault): fault.description
            case .endedWithoutFrame: "the pipeline ended without a frame"
            case .noFrame(let seconds): "no frame within \(seconds) s"
            }
        }
    }

    /// Plays `description` until the first JPEG, an error, end-of-stream or `timeout` seconds.
    public static func firstFrame(of description: String, timeout: Double) async -> Result<FirstFrame, Failure> {
        let outcome = Outcome()
        let pipeline: Pipeline
        do {
            pipeline = try Pipeline(
                description: description,
                onSample: { bytes, format in outcome.settle(.success(FirstFrame(format: format, bytes: bytes.count))) },
                onBusEvent: { event in
                    switch event {
                    case .error(let fault): outcome.settle(.failure(.failed(fault)))
                    case .endOfStream: outcome.settle(.failure(.endedWithoutFrame))
                    case .warning: break
                    }
                })
        } catch {
            return .failure(.invalid(error))
        }
        do {
            try pipeline.play()
        } catch {
            // The element's own error is on its way through the bus; wait for it briefly.
        }
        let result = await withTaskGroup(of: Result<FirstFrame, Failure>?.self) { group in
            group.addTask { await outcome.value() }
            group.addTask {
                try? await Task.sleep(for: .milliseconds(Int(timeout * 1000)))
                return nil
            }
            let first = await group.next() ?? nil
            outcome.settle(.failure(.noFrame(seconds: timeout)))
            group.cancelAll()
            return first ?? .failure(.noFrame(seconds: timeout))
        }
        pipeline.stop()
        return result
    }

    /// The first outcome wins; later ones are ignored. Waiters resume once it is known.
    private final class Outcome: Sendable {
        private let state = Mutex<(result: Result<FirstFrame, Failure>?, waiters: [CheckedContinuation<Result<FirstFrame, Failure>, Never>])>((nil, []))

        func settle(_ result: Result<FirstFrame, Failure>) {
            let waiters = state.withLock { state -> [CheckedContinuation<Result<FirstFrame, Failure>, Never>] in
                guard state.result == nil else { return [] }
                state.result = result
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(returning: result) }
        }

        func value() async -> Result<FirstFrame, Failure> {
            await withCheckedContinuation { continuation in
                let ready = state.withLock { state -> Result<FirstFrame, Failure>? in
                    if let result = state.result { return result }
                    state.waiters.append(continuation)
                    return nil
                }
                if let ready { continuation.resume(returning: ready) }
            }
        }
    }
}

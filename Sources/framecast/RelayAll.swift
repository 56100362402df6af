import FramecastServer
import Logging
import ServiceLifecycle
import Synchronization

/// The origin's streams as `--relay-all` last read them: what `servedDefinitions()` adds, at the
/// start and at each reload (a reload parses the flags again, so the list lives here).
final class RelayAllStreams: Sendable {
    static let shared = RelayAllStreams()

    private let streams = Mutex<[StreamDefinition]>([])

    var current: [StreamDefinition] { streams.withLock { $0 } }

    /// Replaces the list; true when it changed.
    func replace(_ definitions: [StreamDefinition]) -> Bool {
        streams.withLock { streams in
            guard streams != definitions else { return false }
            streams = definitions
            return true
        }
    }

    /// At start: reads the origin's list, trying for 10 s (an origin starting at the same moment);
    /// an origin that never answers is a start-up error (exit status 2), so that a supervisor
    /// retries the edge rather than serving nothing.
    func load(origin: String, logger: Logger) async throws {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            do throws(OriginStreams.Failure) {
                let definitions = try await OriginStreams.definitions(base: origin)
                _ = replace(definitions)
                logger.info("relaying \(definitions.count) stream(s) of the origin: \(definitions.map(\.name).joined(separator: ", "))")
                return
            } catch {
                guard ContinuousClock.now < deadline else { throw StartupFailure(error.description).exitCode }
                try await Task.sleep(for: .milliseconds(500))
            }
        }
    }
}

/// Reads the origin's stream list every `interval` seconds; a stream added or removed there is
/// added or removed here by a reload (viewers of the others are untouched). An origin that does
/// not answer leaves the list as it was: its streams show NO SIGNAL meanwhile.
struct RelayAllWatcher: Service {
    let origin: String
    let interval: Double
    let reloader: StreamReloader
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            var failing = false
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: .milliseconds(Int(interval * 1000)))
                } catch {
                    return
                }
                do throws(OriginStreams.Failure) {
                    let definitions = try await OriginStreams.definitions(base: origin)
                    failing = false
                    if RelayAllStreams.shared.replace(definitions) {
                        _ = await reloader.reload(trigger: "the origin's streams changed")
                    }
                } catch {
                    if !failing { logger.warning("\(error.description); relaying the streams it had") }
                    failing = true
                }
            }
        }
    }
}

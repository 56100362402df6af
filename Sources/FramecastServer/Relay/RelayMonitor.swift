import Foundation
import Synchronization

/// What `/api/streams` shows of a relay: its upstream, whether it is connected, and how late
/// its frames arrive (the origin's capture time to their arrival here). One per relay stream,
/// across its runs.
public final class RelayMonitor: Sendable {
    let url: String
    private let state = Mutex(State())

    private struct State {
        var upstream: RelayStatus.Upstream = .idle
        var lastError: String?
        var latency: Double?
        var connections = 0
    }

    init(url: String) {
        self.url = url
    }

    func connecting() {
        state.withLock { $0.upstream = .connecting }
    }

    func connected() {
        state.withLock { state in
            state.upstream = .connected
            state.connections += 1
        }
    }

    func down(_ reason: String) {
        state.withLock { state in
            state.upstream = .down
            state.lastError = reason
        }
    }

    func stopped() {
        state.withLock { $0.upstream = .idle }
    }

    /// A frame arrived `seconds` after the origin captured it: a moving average (1/16 weight).
    func arrived(lateBy seconds: Double) {
        guard seconds.isFinite else { return }
        state.withLock { state in
            state.latency = state.latency.map { $0 + (seconds - $0) / 16 } ?? seconds
        }
    }

    var status: RelayStatus {
        state.withLock { state in
            RelayStatus(
                upstream: url, state: state.upstream, connections: state.connections,
                addedLatencyMilliseconds: state.latency.map { ($0 * 10_000).rounded() / 10 }, lastError: state.lastError)
        }
    }
}

/// A relay stream's upstream in the status JSON.
public struct RelayStatus: Sendable, Codable, Equatable {
    public enum Upstream: String, Sendable, Codable {
        /// No viewer: no connection to the origin.
        case idle
        case connecting
        case connected
        /// The last attempt failed; the stream retries (see `lastError`).
        case down
    }

    /// The origin's URL, its password and any token masked.
    public var upstream: String
    public var state: Upstream
    /// Connections made to the origin since the server started.
    public var connections: Int
    /// How long after the origin captured them frames arrive here, a moving average.
    public var addedLatencyMilliseconds: Double?
    public var lastError: String?
}

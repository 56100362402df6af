public import CoreMetrics
import Dispatch
import Foundation
public import Logging
public import MediaPipeline
public import NIOCore
import Synchronization

/// One stream's renditions: each made when its first viewer asks, stopped after the idle timeout
/// once its last viewer left, and forgotten then; at most `limit` alive at once.
///
/// A rendition is a stream of its own (a `StreamSupervisor` with its lifecycle, hub, placeholders
/// and status) whose runs are `RenditionFeed`s: a consumer of this stream's frames and a producer
/// of its own. Viewers reach a rendition only through `acquire`, which hands out a client lease
/// under this set's lock, so a rendition is never forgotten between being found and being leased.
public final class RenditionSet: Sendable {
    public let source: StreamSupervisor
    /// Named renditions (`--rendition`, `#@rendition`): stable URLs `/stream/NAME@RENDITION`.
    public let named: [String: RenditionRequest]
    /// Renditions alive at once (`--max-renditions`).
    public let limit: Int

    private let metrics: StreamMetrics
    private let logger: Logger
    /// Microseconds each picture of this set's encoders waits (tests of slow renditions).
    private let encoderDelayForTesting: Int

    private struct Entry {
        let id: UInt64
        let supervisor: StreamSupervisor
        let statistics: RenditionStatistics
        let geometry: RenditionGeometry
        /// Asked for by a named rendition: does not count against `limit`, never evicted.
        var named: Bool
        /// When it was last leased (uptime nanoseconds): the rendition idle longest makes room first.
        var lastLeasedAt: UInt64
    }

    private struct State {
        var live: [RenditionGeometry: Entry] = [:]
        var nextID: UInt64 = 0
        var shutDown = false
        /// Renditions that may still be made right now (a token bucket): a client that churns
        /// geometries cannot make GStreamer build pipelines without end.
        var creations = RenditionSet.creationBurst
        var refilledAt: UInt64 = 0
    }

    /// At most this many renditions of a stream made at once, then `creationsPerSecond`.
    static let creationBurst = 8.0
    private let creationsPerSecond: Double

    private let state = Mutex(State())

    /// `creationsPerSecond`: how fast renditions may be made once a burst of 8 is spent (2 by
    /// default: a wall resized makes one per stream; a client churning sizes is held back).
    public convenience init(
        source: StreamSupervisor, named: [String: RenditionRequest], limit: Int, metricsFactory: any MetricsFactory, logger: Logger,
        creationsPerSecond: Double = 2
    ) {
        self.init(
            source: source, named: named, limit: limit, metricsFactory: metricsFactory, logger: logger, encoderDelayForTesting: 0,
            creationsPerSecond: creationsPerSecond)
    }

    init(
        source: StreamSupervisor, named: [String: RenditionRequest], limit: Int, metricsFactory: any MetricsFactory, logger: Logger,
        encoderDelayForTesting: Int, creationsPerSecond: Double
    ) {
        self.encoderDelayForTesting = encoderDelayForTesting
        self.creationsPerSecond = creationsPerSecond
        self.source = source
        self.named = named
        self.limit = limit
        self.metrics = StreamMetrics(stream: "\(source.name)@renditions", factory: metricsFactory, gauges: false)
        self.logger = logger
    }

    public enum Failure: Error, Sendable {
        /// The request does not fit the source (a crop outside the frame): 400.
        case refused(String)
        /// The source has not produced a frame to size the rendition from: 503.
        case sourceDown(String)
        /// `limit` renditions have viewers: 503, listing them.
        case tooMany([String])
        /// Shutting down: 503.
        case shuttingDown
        /// Renditions of this stream are being made faster than `creationRate`: 503, retry soon.
        case tooFast
    }

    /// What a request gets.
    public enum Acquired: Sendable {
        /// The source itself: the request snaps to its whole picture, at its own quality (asking
        /// for `width=5000` re-encodes nothing).
        case source
        /// A rendition, with a client lease on it (the caller's viewer).
        case rendition(StreamSupervisor, ClientLease)
    }

    /// The rendition `request` snaps to. The source's frame size decides the geometry: when the
    /// source has never produced a frame, it is started and its first frame awaited (up to the
    /// snapshot timeout).
    /// `named`: asked for through a named rendition (exempt from `limit`).
    public func acquire(_ request: RenditionRequest, named: Bool = false, on eventLoop: any EventLoop) async -> Result<Acquired, Failure> {
        var sourceLease: ClientLease?
        defer { sourceLease?.release() }
        if source.lastFrameSize == nil {
            sourceLease = source.acquireClient()
            _ = await SnapshotWaiter.frame(
                from: source.hub, capturedAfter: WallClock.Instant(microseconds: 0), timeout: source.settings.snapshotTimeout, on: eventLoop)
        }
        guard let size = source.lastFrameSize else {
            let status = source.status()
            return .failure(.sourceDown("stream '\(source.name)' has no frame to size a rendition from (\(status.state.rawValue)\(status.lastError.map { ": " + $0.message } ?? ""))"))
        }
        let geometry: RenditionGeometry
        switch request.geometry(sourceWidth: size.width, sourceHeight: size.height) {
        case .success(let value): geometry = value
        case .failure(let refusal): return .failure(.refused(refusal.description))
        }
        if request.quality == nil, geometry.crop == nil, geometry.width >= size.width & ~1, geometry.height >= size.height & ~1 {
            return .success(.source)
        }
        return lease(geometry, named: named, eventLoop: eventLoop).map { .rendition($0, $1) }
    }

    /// `eventLoop`: where a new rendition's input (its consumer of the source) lives.
    private func lease(_ geometry: RenditionGeometry, named: Bool, eventLoop: any EventLoop) -> Result<(StreamSupervisor, ClientLease), Failure> {
        var evicted: StreamSupervisor?
        let now = DispatchTime.now().uptimeNanoseconds
        let result = state.withLock { state -> Result<(StreamSupervisor, ClientLease), Failure> in
            guard !state.shutDown else { return .failure(.shuttingDown) }
            if var entry = state.live[geometry] {
                entry.lastLeasedAt = now
                entry.named = entry.named || named
                state.live[geometry] = entry
                return .success((entry.supervisor, entry.supervisor.acquireClient()))
            }
            if !named, state.live.values.filter({ !$0.named }).count >= limit {
                // The rendition nobody has watched for longest (waiting for its idle timeout) makes room.
                let idle = state.live.values.filter { !$0.named && $0.supervisor.clientCount == 0 }
                guard let oldest = idle.min(by: { $0.lastLeasedAt < $1.lastLeasedAt }) else {
                    return .failure(.tooMany(state.live.values.map(\.supervisor.name).sorted()))
                }
                state.live[oldest.geometry] = nil
                evicted = oldest.supervisor
            }
            let elapsed = Double(now &- state.refilledAt) / 1e9
            state.creations = min(Self.creationBurst, state.creations + elapsed * creationsPerSecond)
            state.refilledAt = now
            guard state.creations >= 1 else { return .failure(.tooFast) }
            state.creations -= 1
            state.nextID += 1
            let entry = makeEntry(geometry, id: state.nextID, named: named, now: now, eventLoop: eventLoop)
            state.live[geometry] = entry
            return .success((entry.supervisor, entry.supervisor.acquireClient()))
        }
        if let evicted {
            logger.debug("rendition stopped to make room for another", metadata: ["rendition": .string(evicted.name)])
            Task { await evicted.shutdown() }
        }
        return result
    }

    private func makeEntry(_ geometry: RenditionGeometry, id: UInt64, named: Bool, now: UInt64, eventLoop: any EventLoop) -> Entry {
        let statistics = RenditionStatistics()
        var settings = source.settings
        // A rendition's restart opens no camera: retry soon, and never after more than 2 s, so
        // that it follows its source back within moments.
        settings.minimumRestartDelay = 0.25
        settings.maximumRestartDelay = 2
        settings.alwaysOn = false
        settings.warmupFrames = 0
        let source = self.source
        let logger = self.logger
        let delay = encoderDelayForTesting
        let name = "\(source.name)@\(geometry)"
        let described = "rendition \(geometry) of \(source.name)"
        let feed = StreamSupervisor.Source(description: described, shown: described, offersRawPictures: false) { callbacks throws(PipelineError) in
            try RenditionFeed(
                source: source, geometry: geometry, statistics: statistics, callbacks: callbacks, eventLoop: eventLoop, logger: logger,
                encoderDelayForTesting: delay)
        }
        let supervisor = StreamSupervisor(
            name: name, source: feed, settings: settings, metrics: metrics, logger: logger,
            framesCarryCaptureTime: true, pictureSize: (geometry.width, geometry.height),
            onIdle: { [weak self] in self?.retire(geometry, id: id) })
        logger.debug("rendition created", metadata: ["rendition": .string(name)])
        return Entry(id: id, supervisor: supervisor, statistics: statistics, geometry: geometry, named: named, lastLeasedAt: now)
    }

    /// A rendition stopped for lack of viewers: forgotten, unless a viewer came back meanwhile.
    private func retire(_ geometry: RenditionGeometry, id: UInt64) {
        let retired = state.withLock { state -> StreamSupervisor? in
            guard let entry = state.live[geometry], entry.id == id, entry.supervisor.clientCount == 0 else { return nil }
            state.live[geometry] = nil
            return entry.supervisor
        }
        guard let retired else { return }
        logger.debug("rendition gone (no viewers)", metadata: ["rendition": .string(retired.name)])
        Task { await retired.shutdown() }
    }

    /// The live renditions' status, smallest first.
    public func status() -> [RenditionStatus] {
        let entries = state.withLock { Array($0.live.values) }
        let aliases = Dictionary(
            named.compactMap { name, request -> (RenditionGeometry, String)? in
                guard let size = source.lastFrameSize, case .success(let geometry) = request.geometry(sourceWidth: size.width, sourceHeight: size.height)
                else { return nil }
                return (geometry, name)
            }, uniquingKeysWith: { first, _ in first })
        return entries.map { entry in
            let status = entry.supervisor.status()
            return RenditionStatus(
                stream: status.name, name: aliases[entry.geometry], width: entry.geometry.width, height: entry.geometry.height,
                quality: entry.geometry.quality, crop: entry.geometry.crop, input: entry.statistics.input, state: status.state, clients: status.clients, fps: status.fps,
                encodeMilliseconds: entry.statistics.encodeMilliseconds.map { ($0 * 100).rounded() / 100 },
                framesPublished: status.framesPublished, sourceFramesSkipped: entry.statistics.framesSkipped,
                lastError: status.lastError?.message)
        }
        .sorted { ($0.width, $0.height, $0.quality, $0.stream) < ($1.width, $1.height, $1.quality, $1.stream) }
    }

    /// Renditions alive now (for tests and status).
    public var liveCount: Int { state.withLock { $0.live.count } }

    /// Stops every rendition for good (server shutdown).
    public func shutdown() async {
        let supervisors = state.withLock { state -> [StreamSupervisor] in
            state.shutDown = true
            defer { state.live.removeAll() }
            return state.live.values.map(\.supervisor)
        }
        for supervisor in supervisors { await supervisor.shutdown() }
    }
}

import CoreMetrics
import NIOCore
import Synchronization

/// One `/ws` connection's wants and mailbox: for each stream or rendition it asked for (by its
/// stream name, `NAME` or `NAME@WxHqQ`), a tile (a consumer of that stream's hub on the
/// connection's event loop) and the newest frame not yet sent. A stream's
/// new frame replaces an unsent one (the client skips it), so a connection never holds more than
/// one frame per stream, however far behind it falls. The socket's one writer task sends them.
final class WallSession: Sendable {
    private struct State {
        var pending: [String: (frame: Frame, stream: StreamSupervisor)] = [:]
        var wanted: Set<String> = []
        /// Wanted streams whose hub finished, not yet reported to the page.
        var ended: Set<String> = []
        var closed = false
        /// A valid subscription arrived (even an empty one).
        var subscribed = false
    }

    private let eventLoop: any EventLoop
    private let state = Mutex(State())
    /// The tiles, on the connection's loop (made there on first use).
    private let tiles: NIOLoopBoundBox<WallTiles?>
    private let wake: AsyncStream<Void>.Continuation
    /// Yields when at least one frame waits to be sent.
    let wakeups: AsyncStream<Void>

    init(eventLoop: any EventLoop) {
        self.eventLoop = eventLoop
        self.tiles = .makeEmptyBox(valueType: WallTiles.self, eventLoop: eventLoop)
        (wakeups, wake) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
    }

    /// Whether the client has sent a valid subscription yet.
    var hasSubscribed: Bool { state.withLock { $0.subscribed } }

    /// Replaces the set of wanted streams. A stream wanted already keeps its tile (the target's
    /// own lease, if any, is dropped with it); a new one joins with the target's lease.
    func want(_ targets: [StreamTarget]) {
        let byName = Dictionary(targets.map { ($0.supervisor.name, $0) }, uniquingKeysWith: { first, _ in first })
        let wanted = Set(byName.keys)
        let change = state.withLock { state -> (leaving: [String], joining: [String])? in
            guard !state.closed else { return nil }
            state.subscribed = true
            let leaving = state.wanted.subtracting(wanted)
            for name in leaving { state.pending[name] = nil }
            defer { state.wanted = wanted }
            return (leaving.sorted(), wanted.subtracting(state.wanted).sorted())
        }
        guard let change else { return }
        let joining = change.joining.compactMap { byName[$0] }.map { target in (target.supervisor, target.takeLease()) }
        let tiles = self.tiles
        let eventLoop = self.eventLoop
        eventLoop.execute {
            let set = tiles.value ?? WallTiles()
            tiles.value = set
            for name in change.leaving { set.leave(name) }
            for (stream, lease) in joining { set.join(stream, lease: lease, session: self, eventLoop: eventLoop) }
        }
    }

    /// The stream names wanted now.
    var wantedNames: Set<String> { state.withLock { $0.wanted } }

    /// Leaves these streams (their leases are released on the loop, before anything submitted later).
    func leave(_ names: Set<String>) {
        let leaving = state.withLock { state -> Set<String> in
            let leaving = state.wanted.intersection(names)
            state.wanted.subtract(leaving)
            for name in leaving { state.pending[name] = nil }
            return leaving
        }
        guard !leaving.isEmpty else { return }
        let tiles = self.tiles
        eventLoop.execute {
            for name in leaving { tiles.value?.leave(name) }
        }
    }

    /// Called by a tile on the loop. Returns true when it replaced an unsent frame.
    fileprivate func deposit(_ frame: Frame, from stream: StreamSupervisor) -> Bool {
        let replaced = state.withLock { state -> Bool? in
            guard !state.closed, state.wanted.contains(stream.name) else { return nil }
            defer { state.pending[stream.name] = (frame, stream) }
            return state.pending[stream.name] != nil
        }
        guard let replaced else { return false }
        wake.yield()
        return replaced
    }

    /// A wanted stream's hub finished: it is no longer wanted, its tile goes, and the writer
    /// reports it (`takeEnded`). Called on the loop.
    fileprivate func streamEnded(_ name: String) {
        let ended = state.withLock { state -> Bool in
            guard !state.closed, state.wanted.remove(name) != nil else { return false }
            state.pending[name] = nil
            state.ended.insert(name)
            return true
        }
        guard ended else { return }
        tiles.value?.leave(name)
        wake.yield()
    }

    /// The streams that ended since the last call, sorted.
    func takeEnded() -> [String] {
        state.withLock { state in
            defer { state.ended.removeAll() }
            return state.ended.sorted()
        }
    }

    /// Takes every waiting frame (at most one per stream).
    func takePending() -> [(frame: Frame, stream: StreamSupervisor)] {
        state.withLock { state in
            defer { state.pending.removeAll(keepingCapacity: true) }
            return Array(state.pending.values)
        }
    }

    /// Leaves every stream and ends the wake-ups.
    func close() {
        let first = state.withLock { state -> Bool in
            defer { state.closed = true }
            state.pending.removeAll()
            state.wanted.removeAll()
            return !state.closed
        }
        guard first else { return }
        let tiles = self.tiles
        eventLoop.execute { tiles.value?.leaveAll() }
        wake.finish()
    }
}

/// A session's tiles, by stream name. Used only on the connection's loop.
private final class WallTiles {
    private var tiles: [String: WallTile] = [:]

    func join(_ stream: StreamSupervisor, lease: ClientLease, session: WallSession, eventLoop: any EventLoop) {
        leave(stream.name)
        let tile = WallTile(stream: stream, lease: lease, session: session, eventLoop: eventLoop)
        tiles[stream.name] = tile
        tile.join()
    }

    func leave(_ name: String) {
        tiles.removeValue(forKey: name)?.leave()
    }

    func leaveAll() {
        for tile in tiles.values { tile.leave() }
        tiles.removeAll()
    }
}

/// One stream on one `/ws` connection: a consumer of the stream's hub that hands each frame to
/// the session's mailbox. Used only on the connection's loop.
private final class WallTile: FrameConsumer {
    private let stream: StreamSupervisor
    private let lease: ClientLease
    private weak var session: WallSession?
    private let eventLoop: any EventLoop
    private var slot = NewestFrameSlot()
    private var joined = false

    init(stream: StreamSupervisor, lease: ClientLease, session: WallSession, eventLoop: any EventLoop) {
        self.stream = stream
        self.lease = lease
        self.session = session
        self.eventLoop = eventLoop
    }

    func join() {
        guard let joined = stream.hub.attach(self, on: eventLoop) else { return }
        self.joined = true
        if let latest = joined.latest { _ = offer(latest) }
    }

    func leave() {
        if joined { stream.hub.detach(self, on: eventLoop) }
        joined = false
        lease.release()
    }

    func offer(_ publication: LoopPublication) -> Bool {
        // Only the order matters here: the session's mailbox is the one slot.
        guard slot.put(publication) != .stale, let frame = slot.take()?.frame, let session else { return false }
        // Placeholders go to the wall too: a tile shows NO SIGNAL while its camera is down.
        return session.deposit(frame, from: stream)
    }

    func hubFinished() {
        joined = false
        // The stream was removed (a reload) or the server stops: the session forgets it, releases
        // its lease, and tells the page.
        session?.streamEnded(stream.name)
    }
}

import NIOCore

/// A frame as a hub hands it out: the frame and its place in the hub's order of publications.
/// A repeat of the newest frame is a new publication of the same frame.
struct Publication: Sendable {
    let frame: Frame
    /// Increases by one per publication, decided under the hub's lock.
    let order: UInt64
}

/// Whatever receives one stream's frames on one event loop: an HTTP multipart connection, a
/// WebSocket session's tile, a snapshot waiter (and later renditions and relays). Every method is
/// called on the consumer's event loop only.
protocol FrameConsumer: AnyObject {
    /// Offers the newest frame. The consumer sends it, or keeps it as its one frame waiting.
    /// Returns true when that replaced a frame still waiting (a frame this client skips).
    func offer(_ publication: Publication) -> Bool
    /// Pipeline run `run` ended (failed or stopped).
    func runEnded(_ run: UInt64)
    /// The hub finished (shutdown): no more frames will come.
    func hubFinished()
}

extension FrameConsumer {
    func runEnded(_ run: UInt64) {}
}

/// A consumer's one newest-frame slot: keeps at most one frame waiting, and never takes a
/// publication older than the last one it took. The hub numbers publications under its lock but
/// posts them to the loops after releasing it, so two publications decided at nearly the same time
/// (a repeat and a new frame) can reach a loop in either order: the slot puts them back in order.
struct NewestFrameSlot {
    private(set) var waiting: Publication?
    private var lastOrder: UInt64 = 0

    enum Outcome {
        /// Older than what the slot already had: ignored.
        case stale
        /// Now waiting in an empty slot.
        case stored
        /// Now waiting, replacing a frame that never went out.
        case replaced
    }

    mutating func put(_ publication: Publication) -> Outcome {
        guard publication.order > lastOrder else { return .stale }
        lastOrder = publication.order
        defer { waiting = publication }
        return waiting == nil ? .stored : .replaced
    }

    mutating func take() -> Publication? {
        defer { waiting = nil }
        return waiting
    }

    mutating func clear() {
        waiting = nil
    }
}

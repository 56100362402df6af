import NIOCore

/// A frame as a hub hands it out: the frame and its place in the hub's order of publications.
/// A repeat of the newest frame is a new publication of the same frame.
struct Publication: Sendable {
    let frame: Frame
    /// Increases by one per publication, decided under the hub's lock.
    let order: UInt64
}

/// A publication as one event loop's consumers receive it: made once per publication and loop by
/// the loop's fan-out, and used only on that loop.
///
/// Hundreds of consumers on each loop keep a reference to the frame they were offered and to the
/// layout they write. Were those the objects the other loop's consumers reference too, every
/// retain and release would move the same reference count between the cores (measured: the
/// largest item of the server's own CPU at 800 clients). Each loop's consumers share this object
/// and the loop's own layout instead.
final class LoopPublication {
    let publication: Publication
    /// This loop's multipart layout of the frame, made by the loop's first multipart client.
    var multipart: MultipartLoopPart?

    init(_ publication: Publication) {
        self.publication = publication
    }

    convenience init(frame: Frame, order: UInt64) {
        self.init(Publication(frame: frame, order: order))
    }

    var frame: Frame { publication.frame }
    var order: UInt64 { publication.order }
}

/// Whatever receives one stream's frames on one event loop: an HTTP multipart connection, a
/// WebSocket session's tile, a snapshot waiter (and later renditions and relays). Every method is
/// called on the consumer's event loop only.
protocol FrameConsumer: AnyObject {
    /// Offers the newest frame. The consumer sends it, or keeps it as its one frame waiting.
    /// Returns true when that replaced a frame still waiting (a frame this client skips).
    func offer(_ publication: LoopPublication) -> Bool
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
    private(set) var waiting: LoopPublication?
    private var lastOrder: UInt64 = 0

    enum Outcome {
        /// Older than what the slot already had: ignored.
        case stale
        /// Now waiting in an empty slot.
        case stored
        /// Now waiting, replacing a frame that never went out.
        case replaced
    }

    mutating func put(_ publication: LoopPublication) -> Outcome {
        guard publication.order > lastOrder else { return .stale }
        lastOrder = publication.order
        defer { waiting = publication }
        return waiting == nil ? .stored : .replaced
    }

    mutating func take() -> LoopPublication? {
        defer { waiting = nil }
        return waiting
    }

    mutating func clear() {
        waiting = nil
    }
}

import Dispatch

/// `?fps=N`: caps what one client is sent. The pipeline is not changed; frames are skipped for
/// this client only. Admission follows a schedule of one slot per 1/N s (not "1/N s since the last
/// frame", which a 30 fps source's jitter would turn into fewer than N), with half a slot of
/// tolerance, and catches up at most one slot after a pause.
struct ClientRateLimit {
    private let interval: UInt64?
    private var nextDue: UInt64 = 0

    /// `fps` nil means no cap.
    /// `fps` nil means no cap. A rate outside `Limits.fps` is clamped into it (the query is
    /// refused before this, see `parse`; this keeps a value built in code from trapping).
    init(fps: Double?) {
        interval = fps.map { fps in
            let bounded = fps.isNaN ? Limits.fps.maximum : min(max(fps, Limits.fps.minimum), Limits.fps.maximum)
            return UInt64(1e9 / bounded)
        }
    }

    /// Parses `?fps=` into `Limits.fps`. Nil text means no cap.
    static func parse(_ text: String?) -> Result<Double?, JSONError> {
        guard let text else { return .success(nil) }
        switch Limits.fps.parse(text) {
        case .success(let fps): return .success(fps)
        case .failure(let refusal): return .failure(JSONError(error: refusal.description))
        }
    }

    mutating func admit() -> Bool {
        guard let interval else { return true }  // uncapped: no clock read on the per-frame path
        let now = DispatchTime.now().uptimeNanoseconds
        guard now + interval / 2 >= nextDue else { return false }
        // Behind by more than a slot (a pause, a slow write): restart the schedule from now.
        nextDue = nextDue + interval < now ? now + interval : nextDue + interval
        return true
    }
}

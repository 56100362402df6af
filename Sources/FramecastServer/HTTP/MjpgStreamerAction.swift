/// mjpg-streamer's `?action=` values: `stream`, `snapshot`, and `stream_N` / `snapshot_N` for the
/// N-th stream counted from 0. Imports nothing: it is fuzzed on its own (see `Fuzz/`).
struct MjpgStreamerAction: Equatable, Sendable {
    enum Verb: String, Sendable {
        case stream
        case snapshot
    }

    let verb: Verb
    let index: Int

    enum Refusal: Error, Equatable {
        /// Not `stream`/`snapshot` with an optional `_N`: 400.
        case unknownAction(String)
        /// A stream number that is not served: 404.
        case noSuchStream(String, count: Int)
    }

    /// `action` as it came in the query; `streamCount` streams are served.
    static func parse(_ action: String, streamCount: Int) -> Result<MjpgStreamerAction, Refusal> {
        let name: Substring
        var index = 0
        if let underscore = action.lastIndex(of: "_") {
            name = action[..<underscore]
            let suffix = action[action.index(after: underscore)...]
            // Digits only, at most 9 (no sign, no overflow): anything else is no stream number.
            guard !suffix.isEmpty, suffix.count <= 9, suffix.utf8.allSatisfy({ (48...57).contains($0) }), let number = Int(suffix) else {
                return .failure(.unknownAction(action))
            }
            index = number
        } else {
            name = action[...]
        }
        guard let verb = Verb(rawValue: String(name)) else { return .failure(.unknownAction(action)) }
        guard index < streamCount else { return .failure(.noSuchStream(String(index), count: streamCount)) }
        return .success(MjpgStreamerAction(verb: verb, index: index))
    }
}

import Foundation

/// What a `/ws` client sends to choose its streams: `{"streams": ["a", "b"]}`. At most 64 names
/// of at most 64 characters each; anything else is refused (the session answers with an error).
/// Imports only Foundation: it is fuzzed on its own (see `Fuzz/`).
struct WallSubscription: Decodable, Equatable, Sendable {
    var streams: [String]

    static let maximumStreams = 64
    static let maximumNameLength = 64

    /// The wanted stream names, or nil when `text` is not a valid subscription.
    static func parse(_ text: String) -> WallSubscription? {
        guard text.utf8.count <= 64 * 1024,
            let request = try? JSONDecoder().decode(WallSubscription.self, from: Data(text.utf8)),
            request.streams.count <= maximumStreams,
            request.streams.allSatisfy({ $0.utf8.count <= maximumNameLength })
        else { return nil }
        return request
    }
}

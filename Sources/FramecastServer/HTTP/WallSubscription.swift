import Foundation

/// What a `/ws` client sends to choose its streams: `{"streams": ["a", {"name": "b", "width": 480}]}`,
/// each stream a name or an object with its name and rendition keys (`width`, `height`,
/// `quality` as numbers, `crop` as "X,Y,W,H"). At most 64 streams with names of at most 64
/// characters; anything else is refused (the session answers with an error). The keys' values are
/// kept as text, for `RenditionRequest` to read into its bounds like a query string's.
/// Imports only Foundation: it is fuzzed on its own (see `Fuzz/`).
struct WallSubscription: Decodable, Equatable, Sendable {
    struct Entry: Decodable, Equatable, Sendable {
        var name: String
        /// Rendition keys and their values as text (empty: the stream itself).
        var parameters: [String: String] = [:]

        init(name: String, parameters: [String: String] = [:]) {
            self.name = name
            self.parameters = parameters
        }

        private enum Key: String, CodingKey { case name, width, height, quality, crop }

        init(from decoder: any Decoder) throws {
            if let name = try? decoder.singleValueContainer().decode(String.self) {
                self.name = name
                return
            }
            let container = try decoder.container(keyedBy: Key.self)
            name = try container.decode(String.self, forKey: .name)
            for key in [Key.width, .height, .quality] {
                if let number = try container.decodeIfPresent(Double.self, forKey: key) {
                    parameters[key.rawValue] = Self.text(number)
                }
            }
            if let crop = try container.decodeIfPresent(String.self, forKey: .crop) {
                parameters["crop"] = String(crop.prefix(64))
            }
        }

        /// A whole number as digits, anything else as Swift prints it: the bounds refuse it then.
        private static func text(_ number: Double) -> String {
            if number.isFinite, number == number.rounded(), abs(number) < 1e15 { return String(Int64(number)) }
            return String(number)
        }
    }

    var streams: [Entry]

    static let maximumStreams = 64
    static let maximumNameLength = 64

    /// The wanted streams, or nil when `text` is not a valid subscription.
    static func parse(_ text: String) -> WallSubscription? {
        guard text.utf8.count <= 64 * 1024,
            let request = try? JSONDecoder().decode(WallSubscription.self, from: Data(text.utf8)),
            request.streams.count <= maximumStreams,
            request.streams.allSatisfy({ $0.name.utf8.count <= maximumNameLength })
        else { return nil }
        return request
    }
}

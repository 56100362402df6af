import Foundation

/// The `--htpasswd` file: `user:hash` lines of bcrypt entries (`htpasswd -B`), `#` comments and
/// blank lines. Pure text in, entries out (Foundation only, no server types), so it can be fuzzed
/// on its own with `swiftc`.
///
/// It reads UTF-8 bytes, not characters: `\r\n` is one `Character` in Swift and a combining mark
/// after `:` would hide the colon from a `Character` search. Every step is one pass over the bytes.
public enum HtpasswdFile {
    /// One user. `hash` is ready for the checker: Apache's `$2y$` is written `$2b$`, the same
    /// algorithm under the name the checker knows.
    public struct Entry: Sendable, Equatable {
        public var user: String
        public var hash: String
        /// bcrypt's log2 of rounds, from the hash.
        public var cost: Int
    }

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case badLine(path: String, line: Int, problem: String)
        case empty(path: String)

        public var description: String {
            switch self {
            case .badLine(let path, let line, let problem): "\(path), line \(line): \(problem)"
            case .empty(let path): "\(path) holds no user"
            }
        }
    }

    /// The costs `htpasswd -B -C` makes. Above it one check takes many seconds, and the server
    /// spends one at startup (the stand-in hash for unknown users).
    public static let costs = 4...17

    public static func parse(text: String, path: String) throws(Failure) -> [Entry] {
        // One line at a time: no array of every line (a file of newlines would make millions).
        var rest = text.utf8[...]
        // A byte order mark some editors write would otherwise become part of the first user name.
        if rest.starts(with: [0xEF, 0xBB, 0xBF]) { rest = rest.dropFirst(3) }
        var entries: [Entry] = []
        var lineOfUser: [String: Int] = [:]
        var number = 0
        while !rest.isEmpty {
            let end = rest.firstIndex(of: UInt8(ascii: "\n")) ?? rest.endIndex
            let line = trimmed(rest[..<end])
            rest = end == rest.endIndex ? rest[end...] : rest[rest.index(after: end)...]
            number += 1
            if line.isEmpty || line.first == UInt8(ascii: "#") { continue }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon != line.startIndex else {
                throw .badLine(path: path, line: number, problem: "expected USER:HASH")
            }
            let user = String(decoding: line[..<colon], as: UTF8.self)
            let hash = line[line.index(after: colon)...]
            guard let cost = bcryptCost(hash) else {
                throw .badLine(
                    path: path, line: number,
                    problem: "only bcrypt entries are accepted (create them with `htpasswd -B`)")
            }
            guard costs.contains(cost) else {
                throw .badLine(
                    path: path, line: number,
                    problem: "bcrypt cost \(cost) is outside \(costs.lowerBound)...\(costs.upperBound) (`htpasswd -B -C`)")
            }
            if let first = lineOfUser[user] {
                throw .badLine(path: path, line: number, problem: "user \(user.debugDescription) is already on line \(first)")
            }
            lineOfUser[user] = number
            var normalized = String(decoding: hash, as: UTF8.self)
            if normalized.hasPrefix("$2y$") { normalized = "$2b$" + normalized.dropFirst(4) }
            entries.append(Entry(user: user, hash: normalized, cost: cost))
        }
        guard !entries.isEmpty else { throw .empty(path: path) }
        return entries
    }

    /// Spaces, tabs and carriage returns around a line.
    private static func trimmed(_ line: Substring.UTF8View) -> Substring.UTF8View {
        func isBlank(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0D || byte == 0x0B || byte == 0x0C }
        guard let first = line.firstIndex(where: { !isBlank($0) }), let last = line.lastIndex(where: { !isBlank($0) }) else {
            return line[line.endIndex...]
        }
        return line[first...last]
    }

    /// The cost of a well-formed bcrypt hash (`$2a$`, `$2b$` or `$2y$`, two digits, `$`, 22
    /// characters of salt and 31 of hash in bcrypt's base64), or nil.
    private static func bcryptCost(_ hash: Substring.UTF8View) -> Int? {
        let bytes = Array(hash.prefix(61))
        guard bytes.count == 60, bytes[0] == UInt8(ascii: "$"), bytes[1] == UInt8(ascii: "2"),
            [UInt8(ascii: "a"), UInt8(ascii: "b"), UInt8(ascii: "y")].contains(bytes[2]),
            bytes[3] == UInt8(ascii: "$"), bytes[6] == UInt8(ascii: "$")
        else { return nil }
        let digits = UInt8(ascii: "0")...UInt8(ascii: "9")
        guard digits.contains(bytes[4]), digits.contains(bytes[5]) else { return nil }
        let alphabet: (UInt8) -> Bool = { byte in
            byte == UInt8(ascii: ".") || byte == UInt8(ascii: "/") || digits.contains(byte)
                || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte) || (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte)
        }
        guard bytes[7...].allSatisfy(alphabet) else { return nil }
        return Int(bytes[4] - digits.lowerBound) * 10 + Int(bytes[5] - digits.lowerBound)
    }
}

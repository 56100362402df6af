import Foundation
import HummingbirdBcrypt
import Synchronization

/// Who may use the server: HTTP Basic credentials from `--auth user:password` or an htpasswd file
/// of bcrypt entries (`htpasswd -B`).
public final class AccessControl: Sendable {
    private enum Secret: Sendable {
        case plain([UInt8])
        case bcrypt(String)
    }

    private let users: [String: Secret]
    /// Successful bcrypt checks, keyed by a per-process seeded hash of user and password: a bcrypt
    /// check costs milliseconds to a quarter second, and the page polls every second.
    private let verified = Mutex(Set<Int>())

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case badAuthOption
        case unreadable(String, String)
        case badLine(String, Int, String)
        case empty(String)

        public var description: String {
            switch self {
            case .badAuthOption: "--auth must be USER:PASSWORD"
            case .unreadable(let path, let reason): "cannot read htpasswd file \(path): \(reason)"
            case .badLine(let path, let line, let problem): "\(path), line \(line): \(problem)"
            case .empty(let path): "\(path) holds no user"
            }
        }
    }

    private init(users: [String: Secret]) {
        self.users = users
    }

    /// `--auth user:password`.
    public static func single(_ option: String) throws(Failure) -> AccessControl {
        guard let colon = option.firstIndex(of: ":"), colon != option.startIndex else { throw .badAuthOption }
        let user = String(option[..<colon])
        let password = String(option[option.index(after: colon)...])
        return AccessControl(users: [user: .plain(Array(password.utf8))])
    }

    /// `--htpasswd FILE`: `user:$2y$…` lines (bcrypt only: the other htpasswd formats are weak).
    public static func htpasswd(path: String) throws(Failure) -> AccessControl {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadable(path, (error as NSError).localizedDescription)
        }
        var users: [String: Secret] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let entry = line.trimmingCharacters(in: .whitespacesAndNewlines)
            if entry.isEmpty || entry.hasPrefix("#") { continue }
            guard let colon = entry.firstIndex(of: ":"), colon != entry.startIndex else {
                throw .badLine(path, index + 1, "expected USER:HASH")
            }
            var hash = String(entry[entry.index(after: colon)...])
            guard hash.hasPrefix("$2y$") || hash.hasPrefix("$2b$") || hash.hasPrefix("$2a$") else {
                throw .badLine(path, index + 1, "only bcrypt entries are accepted (create them with `htpasswd -B`)")
            }
            // $2y$ (Apache's name) is the same algorithm as $2b$, which the checker knows.
            if hash.hasPrefix("$2y$") { hash = "$2b$" + hash.dropFirst(4) }
            users[String(entry[..<colon])] = .bcrypt(hash)
        }
        guard !users.isEmpty else { throw .empty(path) }
        return AccessControl(users: users)
    }

    /// Whether `user` with `password` may in.
    func permits(user: String, password: String) -> Bool {
        switch users[user] {
        case .none:
            return false
        case .plain(let expected):
            return Self.constantTimeEqual(expected, Array(password.utf8))
        case .bcrypt(let hash):
            var hasher = Hasher()
            hasher.combine(user)
            hasher.combine(password)
            let key = hasher.finalize()
            if verified.withLock({ $0.contains(key) }) { return true }
            guard Bcrypt.verify(password, hash: hash) else { return false }
            verified.withLock { _ = $0.insert(key) }
            return true
        }
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

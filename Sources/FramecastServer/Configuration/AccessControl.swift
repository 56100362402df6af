import Crypto
import Foundation
import HummingbirdBcrypt
import Synchronization

/// Who may use the server: HTTP Basic credentials from `--auth user:password` or an htpasswd file
/// of bcrypt entries (`htpasswd -B`), and the state that keeps checking them cheap and safe:
///
/// - bcrypt runs on a worker thread of its own with a bounded queue (`AuthBcryptWorker`), never
///   on Swift's shared concurrency pool;
/// - an unknown user is checked against a stand-in hash of the file's highest cost, so it takes
///   as long as a wrong password (no user-name oracle);
/// - a verified Authorization header passes without bcrypt for a few minutes
///   (`AuthCredentialCache`);
/// - an address with too many recent failures is refused without a check (`AuthFailureThrottle`).
///
/// `--auth`'s plain password is compared in constant time: cheap, so neither cached nor queued,
/// but throttled like the rest.
///
/// An htpasswd file is read again at every reload (`reloadUsers`): a removed user, or a changed
/// password, stops working then, remembered headers and session cookies included.
public final class AccessControl: Sendable {
    private enum Credentials: Sendable {
        case plain(user: [UInt8], password: [UInt8])
        /// Hashes by user, and the stand-in hash checked for users the file does not hold.
        case bcrypt(users: [String: String], unknownUser: String)
    }

    /// The throttle's bucket for requests whose context cannot say where they came from.
    static let unknownAddress = "(unknown address)"

    /// The credentials in force and their bcrypt costs (replaced by a reload of the htpasswd file).
    private let current: Mutex<(credentials: Credentials, costs: [Int])>
    /// The htpasswd file, read again at reloads; nil with `--auth`.
    let htpasswdPath: String?
    let limits: AuthLimits
    private let worker: AuthBcryptWorker
    private let cache: Mutex<AuthCredentialCache>
    private let throttle: Mutex<AuthFailureThrottle>
    private let bcryptRuns = Atomic(0)

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

    private init(credentials: Credentials, limits: AuthLimits, costs: [Int] = [], htpasswdPath: String? = nil) {
        current = Mutex((credentials, costs))
        self.htpasswdPath = htpasswdPath
        self.limits = limits
        worker = AuthBcryptWorker(capacity: limits.pendingChecks)
        cache = Mutex(AuthCredentialCache(lifetime: limits.cacheLifetime, capacity: limits.cacheCapacity))
        throttle = Mutex(
            AuthFailureThrottle(failuresAllowed: limits.failuresAllowed, window: limits.failureWindow, trackedAddresses: limits.trackedAddresses))
    }

    /// `--auth user:password`.
    public static func single(_ option: String) throws(Failure) -> AccessControl {
        try single(option, limits: .standard)
    }

    static func single(_ option: String, limits: AuthLimits) throws(Failure) -> AccessControl {
        guard let colon = option.firstIndex(of: ":"), colon != option.startIndex else { throw .badAuthOption }
        let user = Array(option[..<colon].utf8)
        let password = Array(option[option.index(after: colon)...].utf8)
        return AccessControl(credentials: .plain(user: user, password: password), limits: limits)
    }

    /// `--htpasswd FILE`: `user:$2y$…` lines (bcrypt only: the other htpasswd formats are weak).
    /// Makes the stand-in hash for unknown users here, once: one bcrypt hash at the file's highest
    /// cost (a quarter of a second at cost 12).
    public static func htpasswd(path: String) throws(Failure) -> AccessControl {
        try htpasswd(path: path, limits: .standard)
    }

    /// Larger than any sensible user list: `/dev/zero` given by mistake is refused, not read forever.
    private static let maximumFileSize = 16 << 20

    static func htpasswd(path: String, limits: AuthLimits) throws(Failure) -> AccessControl {
        let entries = try readEntries(path: path)
        let (users, costs) = Self.users(entries)
        let standIn = Self.standIn(cost: costs.last ?? HtpasswdFile.costs.lowerBound)
        return AccessControl(credentials: .bcrypt(users: users, unknownUser: standIn), limits: limits, costs: costs, htpasswdPath: path)
    }

    private static func users(_ entries: [HtpasswdFile.Entry]) -> (users: [String: String], costs: [Int]) {
        (Dictionary(entries.map { ($0.user, $0.hash) }, uniquingKeysWith: { first, _ in first }), Set(entries.map(\.cost)).sorted())
    }

    /// One bcrypt hash at the file's highest cost (a quarter of a second at cost 12).
    private static func standIn(cost: Int) -> String {
        Bcrypt.hash(UUID().uuidString + UUID().uuidString, cost: UInt8(cost))
    }

    /// Reads the htpasswd file again (a reload): its users replace the running ones, and every
    /// remembered header is forgotten (a removed user's would pass otherwise). True when the
    /// users or their hashes changed. A file that does not read keeps the running users.
    /// Nothing to do with `--auth`.
    @discardableResult
    func reloadUsers() throws(Failure) -> Bool {
        guard let htpasswdPath else { return false }
        let entries = try Self.readEntries(path: htpasswdPath)
        let (users, costs) = Self.users(entries)
        guard case .bcrypt(let running, let runningStandIn) = current.withLock({ $0.credentials }), running != users else { return false }
        // A new stand-in only when the highest cost changed: it costs a bcrypt run.
        let standIn = costs.last == self.costs.last ? runningStandIn : Self.standIn(cost: costs.last ?? HtpasswdFile.costs.lowerBound)
        current.withLock { $0 = (.bcrypt(users: users, unknownUser: standIn), costs) }
        cache.withLock { $0.removeAll() }
        return true
    }

    private static func readEntries(path: String) throws(Failure) -> [HtpasswdFile.Entry] {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw .unreadable(path, FileManager.default.fileExists(atPath: path) ? "permission denied" : "no such file")
        }
        defer { try? handle.close() }
        let data: Data
        do {
            data = try handle.read(upToCount: maximumFileSize + 1) ?? Data()
        } catch {
            throw .unreadable(path, (error as NSError).localizedDescription)
        }
        guard data.count <= maximumFileSize else { throw .unreadable(path, "larger than \(maximumFileSize >> 20) MiB") }
        guard let text = String(data: data, encoding: .utf8) else { throw .unreadable(path, "not UTF-8 text") }
        let entries: [HtpasswdFile.Entry]
        do {
            entries = try HtpasswdFile.parse(text: text, path: path)
        } catch {
            switch error {
            case .badLine(let path, let line, let problem): throw .badLine(path, line, problem)
            case .empty(let path): throw .empty(path)
            }
        }
        return entries
    }

    /// The bcrypt costs of the htpasswd entries. More than one lets a client tell the users of a
    /// lower cost from unknown ones by the time a wrong password takes: `framecast` warns.
    public var costs: [Int] { current.withLock { $0.costs } }

    /// A warning for the log when the entries' costs differ, or nil.
    public var mixedCostWarning: String? {
        costs.count > 1
            ? "the htpasswd entries use bcrypt costs \(costs.map(String.init).joined(separator: ", ")): a wrong password for a user of a lower cost answers faster than for an unknown user, which tells user names apart; make every entry with the same cost (htpasswd -B -C \(costs.last ?? 12))"
            : nil
    }

    /// Decides for `user` and `password`, which came in `header` (the whole Authorization value,
    /// the cache's key) from `address` (nil: unknown, see `unknownAddress`).
    func authorize(user: String, password: String, header: String, address: String?) async -> AuthDecision {
        let client = address ?? Self.unknownAddress
        let (key, remembered) = cache.withLock { cache in
            let key = cache.key(header)
            return (key, cache.contains(key, now: .now))
        }
        // A remembered header is no guess: it passes even while its address is refused (a viewer
        // behind the same proxy as a guesser keeps watching).
        // It forgives nothing: the guesser's failures still count.
        if remembered { return .allow }
        if let wait = throttle.withLock({ $0.refusal(client, now: .now) }) { return .throttled(retryAfter: wait) }
        switch current.withLock({ $0.credentials }) {
        case .plain(let expectedUser, let expectedPassword):
            // Both compared, whatever the user name says.
            let userMatches = Self.constantTimeEqual(expectedUser, Array(user.utf8))
            let passwordMatches = Self.constantTimeEqual(expectedPassword, Array(password.utf8))
            if userMatches && passwordMatches { cache.withLock { $0.insert(key, now: .now) } }
            return settle(userMatches && passwordMatches, client: client)
        case .bcrypt(let users, let unknownUser):
            let hash = users[user]
            let verified = await worker.verify(key) { [self] in
                bcryptRuns.add(1, ordering: .relaxed)
                // The check runs for unknown users too, against the stand-in: same cost, same time.
                let matches = Bcrypt.verify(password, hash: hash ?? unknownUser) && hash != nil
                // Remembered before the waiters resume, so a request right behind finds it.
                if matches { cache.withLock { $0.insert(key, now: .now) } }
                return matches
            }
            guard let verified else { return .busy }
            return settle(verified, client: client)
        }
    }

    private func settle(_ matches: Bool, client: String) -> AuthDecision {
        if matches {
            throttle.withLock { $0.forgive(client) }
            return .allow
        }
        return .deny(blockedFor: throttle.withLock { $0.recordFailure(client, now: .now) })
    }

    /// bcrypt checks run so far (tests prove what ran and what did not).
    var bcryptChecks: Int { bcryptRuns.load(ordering: .relaxed) }

    /// The cost of the stand-in hash for unknown users (nil with `--auth`).
    var unknownUserCost: Int? {
        guard case .bcrypt(_, let unknownUser) = current.withLock({ $0.credentials }) else { return nil }
        return Int(unknownUser.dropFirst(4).prefix(2))
    }

    /// What a session cookie of `user` is bound to: a digest of the user's credential entry (the
    /// bcrypt hash, or `--auth`'s password), or nil when there is no such user. A cookie made
    /// before the entry changed or went away no longer matches.
    func sessionBinding(user: String) -> [UInt8]? {
        switch current.withLock({ $0.credentials }) {
        case .plain(let expectedUser, let password):
            guard Self.constantTimeEqual(expectedUser, Array(user.utf8)) else { return nil }
            return Array(SHA256.hash(data: Array("plain:".utf8) + password))
        case .bcrypt(let users, _):
            guard let hash = users[user] else { return nil }
            return Array(SHA256.hash(data: Array("bcrypt:\(hash)".utf8)))
        }
    }

    private static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}

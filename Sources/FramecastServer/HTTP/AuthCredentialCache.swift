/// Authorization headers whose bcrypt check succeeded, for `AuthLimits.cacheLifetime`: a viewer's
/// page asks every second, and one check costs up to a quarter of a second of CPU.
///
/// Only a keyed hash of the header is kept (128 bits from two `Hasher`s, seeded per process and
/// salted per cache), never the password. Failures are never remembered. At capacity, expired
/// entries go first, then the one closest to expiry.
struct AuthCredentialCache {
    struct Key: Hashable, Sendable {
        fileprivate let high: Int
        fileprivate let low: Int
    }

    private let lifetime: Duration
    private let capacity: Int
    private let salt = (UInt64.random(in: .min ... .max), UInt64.random(in: .min ... .max))
    private var expiries: [Key: ContinuousClock.Instant] = [:]

    init(lifetime: Duration, capacity: Int) {
        self.lifetime = lifetime
        self.capacity = max(1, capacity)
    }

    var count: Int { expiries.count }

    func key(_ header: String) -> Key {
        var high = Hasher()
        high.combine(salt.0)
        high.combine(header)
        var low = Hasher()
        low.combine(salt.1)
        low.combine(header)
        return Key(high: high.finalize(), low: low.finalize())
    }

    func contains(_ key: Key, now: ContinuousClock.Instant) -> Bool {
        guard let expiry = expiries[key] else { return false }
        return now < expiry
    }

    mutating func insert(_ key: Key, now: ContinuousClock.Instant) {
        if expiries[key] == nil, expiries.count >= capacity {
            expiries = expiries.filter { now < $0.value }
            if expiries.count >= capacity, let soonest = expiries.min(by: { $0.value < $1.value }) {
                expiries[soonest.key] = nil
            }
        }
        expiries[key] = now + lifetime
    }
}

extension AuthCredentialCache {
    /// Forgets every header (the users changed: a reload of the htpasswd file).
    mutating func removeAll() {
        expiries.removeAll()
    }
}

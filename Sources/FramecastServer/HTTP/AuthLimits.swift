/// The bounds of HTTP Basic authentication: how many bcrypt checks may wait, how long and how many
/// verified credentials are remembered, and how many failures one client address may make.
/// Tests shorten the windows; the server uses `standard`.
struct AuthLimits: Sendable {
    /// bcrypt checks admitted at once (one runs, the others wait for it); past it, 503 at once.
    var pendingChecks = 8
    /// How long a verified Authorization header passes without bcrypt.
    var cacheLifetime: Duration = .seconds(300)
    var cacheCapacity = 1024
    /// Failed attempts one address may make within `failureWindow`; the next ones get 429 until
    /// the window has passed.
    var failuresAllowed = 5
    var failureWindow: Duration = .seconds(10)
    /// Addresses whose failures are remembered; past it, the oldest window is forgotten.
    var trackedAddresses = 4096

    static let standard = AuthLimits()
}

extension Duration {
    /// Whole seconds, rounded up, at least 1: the value of a `Retry-After` header.
    var retryAfterSeconds: Int {
        let (seconds, attoseconds) = components
        return max(1, Int(seconds) + (attoseconds > 0 ? 1 : 0))
    }
}

/// What `AccessControl` decides for a request that carries Basic credentials; the middleware
/// turns it into a response and a log line.
enum AuthDecision: Equatable, Sendable {
    case allow
    /// Wrong credentials (401). `blockedFor` is set when this failure put the address over its
    /// limit.
    case deny(blockedFor: Duration?)
    /// Too many recent failures from this address (429), nothing checked.
    case throttled(retryAfter: Duration)
    /// The bcrypt worker is full (503), nothing checked.
    case busy
}

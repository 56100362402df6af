public import Logging
import Synchronization

/// The link key in force: read (or made) at start, read again at every reload, so that writing
/// a new key to the file (or removing it: the reload makes a new one) revokes every link made so
/// far. A reload that finds a file it cannot use keeps the running key and says why.
public final class LinkKeyStore: Sendable {
    public let path: String
    private let key: Mutex<LinkKey>

    /// Reads the key file, making it when it is missing; a warning goes to `logger`.
    public init(path: String, logger: Logger) throws(LinkKey.Failure) {
        self.path = path
        let loaded = try LinkKey.load(path: path, create: true)
        if loaded.created { logger.notice("made a new link key", metadata: ["file": .string(path)]) }
        if let warning = loaded.warning { logger.warning("\(warning)") }
        key = Mutex(loaded.key)
    }

    var current: LinkKey { key.withLock { $0 } }

    /// Reads the file again (a reload). True when the key changed: every earlier link is void.
    @discardableResult
    func reload(logger: Logger) -> Bool {
        let loaded: LinkKey.Loaded
        do throws(LinkKey.Failure) {
            loaded = try LinkKey.load(path: path, create: true)
        } catch {
            logger.error("reload: the link key file is refused, links keep the running key: \(error.description)")
            return false
        }
        if let warning = loaded.warning { logger.warning("\(warning)") }
        let changed = key.withLock { key in
            defer { key = loaded.key }
            return key.fingerprint != loaded.key.fingerprint
        }
        if changed { logger.notice("reload: a new link key; every link made before is revoked", metadata: ["file": .string(path)]) }
        return changed
    }
}

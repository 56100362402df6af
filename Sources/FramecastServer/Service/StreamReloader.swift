public import Logging
import Synchronization

/// Reloads the configuration (SIGHUP, `POST /api/reload`): reads it again whole with `load`, and
/// on success has the catalog serve the new streams. A configuration that does not load or
/// validate changes nothing: the reason is logged and returned.
///
/// The htpasswd file and the link key file are read again first, whatever becomes of the
/// streams: removing a user or rotating the key is a revocation, which must not wait for a
/// pipeline file to be fixed. A file of theirs that does not read keeps what is running.
public final class StreamReloader: Sendable {
    /// Reads the configuration and pipeline files again; throws a user-facing reason.
    public typealias Load = @Sendable () throws -> [StreamDefinition]

    let load: Load
    let notifier: SystemdNotifier?
    let logger: Logger
    private let catalogs = Mutex<StreamCatalog?>(nil)
    private let secrets = Mutex<(access: AccessControl?, links: LinkKeyStore?)>((nil, nil))

    public init(load: @escaping Load, notifier: SystemdNotifier?, logger: Logger) {
        self.load = load
        self.notifier = notifier
        self.logger = logger
    }

    /// The catalog reloads apply to (set by `buildApplication`).
    func attach(_ catalog: StreamCatalog) {
        catalogs.withLock { $0 = catalog }
    }

    /// The credentials and link key reloads read again (set by `buildApplication`).
    func attach(access: AccessControl?, links: LinkKeyStore?) {
        secrets.withLock { $0 = (access, links) }
    }

    private func reloadSecrets(trigger: String) {
        let (access, links) = secrets.withLock { $0 }
        if let access {
            do throws(AccessControl.Failure) {
                if try access.reloadUsers() { logger.notice("reload (\(trigger)): the htpasswd file's users changed") }
            } catch {
                logger.error("reload (\(trigger)): the htpasswd file is refused, the running users are kept: \(error.description)")
            }
        }
        links?.reload(logger: logger)
    }

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case configuration(String)
        case catalog(StreamCatalog.ReloadFailure)

        public var description: String {
            switch self {
            case .configuration(let reason): reason
            case .catalog(let failure): failure.description
            }
        }
    }

    /// One reload at a time, reading and applying together: two at once could apply an older
    /// read after a newer one.
    private let gate = SerialGate()

    /// `trigger` says what asked (for the log). Waits for a reload in progress to finish first.
    public func reload(trigger: String) async -> Result<StreamCatalog.ReloadReport, Failure> {
        await gate.run { await reloadNow(trigger: trigger) }
    }

    private func reloadNow(trigger: String) async -> Result<StreamCatalog.ReloadReport, Failure> {
        guard let catalog = catalogs.withLock({ $0 }) else { return .failure(.catalog(.shutDown)) }
        notifier?.reloading(status: "reloading (\(trigger))")
        defer { notifier?.ready(status: "serving \(catalog.names.count) stream(s)") }
        reloadSecrets(trigger: trigger)
        let definitions: [StreamDefinition]
        do {
            definitions = try load()
        } catch {
            let reason = String(describing: error)
            logger.error("reload (\(trigger)) refused, still serving the running configuration: \(reason)")
            return .failure(.configuration(reason))
        }
        do throws(StreamCatalog.ReloadFailure) {
            let report = try await catalog.apply(definitions)
            logger.notice(
                "reloaded (\(trigger))",
                metadata: [
                    "added": .array(report.added.map { .string($0) }), "removed": .array(report.removed.map { .string($0) }),
                    "changed": .array(report.changed.map { .string($0) }), "unchanged": .array(report.unchanged.map { .string($0) }),
                ])
            return .success(report)
        } catch {
            logger.error("reload (\(trigger)) refused, still serving the running configuration: \(error.description)")
            return .failure(.catalog(error))
        }
    }
}

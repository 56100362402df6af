import Foundation
public import Logging
import NIOHTTP2
import NIOSSL
import Synchronization

/// `--tls-cert` and `--tls-key`: the certificate chain and key HTTPS is served with, read from
/// their PEM files, and read again when they change on disk (a renewal by certbot or an ACME
/// client), on SIGHUP and at an interval. Each new connection takes the context in force when it
/// opens; a connection already open keeps its own, so a renewal drops no viewer. A new pair that
/// does not load (half written, the key of another certificate) is logged and the pair in force
/// kept.
public final class TLSCertificates: Sendable {
    public let certificatePath: String
    public let keyPath: String
    private let state: Mutex<State>

    private struct State {
        var context: NIOSSLContext
        var summary: String
        /// What the files looked like when last loaded (or last found broken).
        var signature: FileSignature
    }

    /// Loads both files; throws a `Failure` naming the file and the reason (a start-up error).
    public init(certificatePath: String, keyPath: String) throws(Failure) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        let signature = FileSignature(certificatePath, keyPath)
        let (context, summary) = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
        state = Mutex(State(context: context, summary: summary, signature: signature))
    }

    /// The context new connections use.
    var context: NIOSSLContext {
        state.withLock { $0.context }
    }

    /// The chain in force, for the log: the leaf's subject and when it expires.
    public var summary: String {
        state.withLock { $0.summary }
    }

    /// What a reload did.
    public enum Reload: Equatable, Sendable {
        /// The files are as they were when last read.
        case unchanged
        /// A new pair is in force (its summary).
        case reloaded(String)
        /// The new files did not load (the reason); the pair in force is kept.
        case kept(String)
    }

    /// Reads the files again when they changed since they were last read (`force`: in any case).
    /// Safe from any thread; connections that open meanwhile get the old or the new context.
    public func reload(force: Bool) -> Reload {
        let signature = FileSignature(certificatePath, keyPath)
        let previous = state.withLock { $0.signature }
        guard force || signature != previous else { return .unchanged }
        do throws(Failure) {
            let (context, summary) = try Self.load(certificatePath: certificatePath, keyPath: keyPath)
            state.withLock { $0 = State(context: context, summary: summary, signature: signature) }
            return .reloaded(summary)
        } catch {
            // Remembered, so that a broken pair is reported once, not at every check.
            state.withLock { $0.signature = signature }
            return .kept(error.description)
        }
    }

    /// `reload(force:)`, and what it did in the log (nothing when the files did not change).
    @discardableResult
    public func reload(force: Bool, logger: Logger) -> Reload {
        let result = reload(force: force)
        switch result {
        case .unchanged: break
        case .reloaded(let summary): logger.notice("TLS certificate reloaded: \(summary)")
        case .kept(let reason): logger.error("TLS certificate not reloaded, the previous one is still served: \(reason)")
        }
        return result
    }

    public struct Failure: Error, CustomStringConvertible, Sendable {
        public let description: String
    }

    private static func load(certificatePath: String, keyPath: String) throws(Failure) -> (NIOSSLContext, String) {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(try readable(certificatePath, what: "--tls-cert"))
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "--tls-cert \(certificatePath): not a PEM certificate (\(error))")
        }
        guard let leaf = chain.first else {
            throw Failure(description: "--tls-cert \(certificatePath): holds no certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: try readable(keyPath, what: "--tls-key"), format: .pem)
        } catch let failure as Failure {
            throw failure
        } catch {
            throw Failure(description: "--tls-key \(keyPath): not a PEM private key (\(error))")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // HTTP/2 needs TLS 1.2 or later (RFC 9113, 9.2), and nothing older is worth offering.
        configuration.minimumTLSVersion = .tlsv12
        // HTTP/2 first: a browser that speaks it gets every camera over one connection.
        configuration.applicationProtocols = NIOHTTP2SupportedALPNProtocols
        let context: NIOSSLContext
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw Failure(description: "--tls-cert \(certificatePath) and --tls-key \(keyPath) do not belong together (\(error))")
        }
        let expires = Date(timeIntervalSince1970: TimeInterval(leaf.notValidAfter))
        let subject = leaf.description
        return (context, "\(subject), valid until \(expires.formatted(.iso8601))")
    }

    /// The file's bytes; a missing or unreadable file is a `Failure` naming the flag.
    private static func readable(_ path: String, what flag: String) throws(Failure) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read (permissions?)" : "does not exist"
            throw Failure(description: "\(flag) \(path): \(reason)")
        }
        guard !data.isEmpty else { throw Failure(description: "\(flag) \(path): is empty") }
        return Array(data)
    }
}

/// Identity, size and modification time of both files: a renewal that replaces a file (rename)
/// or rewrites it in place changes it. (Read through FileManager: `stat`'s struct members are
/// attributed to different C modules from one build to the next.)
struct FileSignature: Equatable, Sendable {
    private let parts: [String]

    init(_ paths: String...) {
        parts = paths.map { path in
            guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else { return "missing" }
            let device = (attributes[.systemNumber] as? NSNumber)?.int64Value ?? -1
            let inode = (attributes[.systemFileNumber] as? NSNumber)?.int64Value ?? -1
            let size = (attributes[.size] as? NSNumber)?.int64Value ?? -1
            let modified = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? -1
            return "\(device):\(inode):\(size):\(modified)"
        }
    }
}

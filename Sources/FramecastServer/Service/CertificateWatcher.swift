import Logging
import ServiceLifecycle

/// Checks the certificate files every `interval` seconds and loads a renewed pair (see
/// `TLSCertificates`): a certificate renewed on disk is served from the next connection on,
/// without a signal. SIGHUP checks at once (`SignalReload`).
struct CertificateWatcher: Service {
    let certificates: TLSCertificates
    let interval: Double
    let logger: Logger

    func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await Task.sleep(for: .milliseconds(interval.saturatingMilliseconds))
                } catch {
                    return
                }
                certificates.reload(force: false, logger: logger)
            }
        }
    }
}


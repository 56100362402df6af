import FramecastServer
import Logging
import ServiceLifecycle
import UnixSignals

/// SIGHUP (`systemctl reload framecast`) reloads the configuration and the TLS certificate; at
/// shutdown, systemd hears STOPPING=1 first.
struct SignalReload: Service {
    let reloader: StreamReloader
    let certificates: TLSCertificates?
    let notifier: SystemdNotifier?
    let logger: Logger
    /// Told when the graceful shutdown begins (a signal, `--exit-when-idle`).
    let onShutdown: @Sendable () -> Void

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await withGracefulShutdownHandler {
            await cancelWhenGracefulShutdown {
                for await _ in hangups {
                    // Read again even when unchanged: SIGHUP is how a renewal hook says "now".
                    certificates?.reload(force: true, logger: logger)
                    _ = await reloader.reload(trigger: "SIGHUP")
                }
            }
        } onGracefulShutdown: {
            onShutdown()
            notifier?.stopping()
        }
    }
}

import FramecastServer
import ServiceLifecycle
import UnixSignals

/// SIGHUP (`systemctl reload framecast`) reloads the configuration; at shutdown, systemd hears
/// STOPPING=1 first.
struct SignalReload: Service {
    let reloader: StreamReloader
    let notifier: SystemdNotifier?
    /// Told when the graceful shutdown begins (a signal, `--exit-when-idle`).
    let onShutdown: @Sendable () -> Void

    func run() async throws {
        let hangups = await UnixSignalsSequence(trapping: .sighup)
        await withGracefulShutdownHandler {
            await cancelWhenGracefulShutdown {
                for await _ in hangups {
                    _ = await reloader.reload(trigger: "SIGHUP")
                }
            }
        } onGracefulShutdown: {
            onShutdown()
            notifier?.stopping()
        }
    }
}

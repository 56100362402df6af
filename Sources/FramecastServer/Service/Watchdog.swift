public import Logging
public import ServiceLifecycle

/// systemd's watchdog (`WatchdogSec=`): sends `WATCHDOG=1` every half period, but only after the
/// health probe found every event loop and stream queue answering. A server that hangs stops
/// sending, and systemd restarts it; one that only looks alive (its main thread fine, a queue
/// stuck behind a hung camera driver) is caught too.
public struct Watchdog: Service {
    let notifier: SystemdNotifier
    let probe: HealthProbe
    /// Seconds between pings: half the period systemd gave.
    let interval: Double
    let logger: Logger

    /// Nil unless systemd asked for pings (`WATCHDOG_USEC`, and `WATCHDOG_PID` naming this
    /// process when set).
    public init?(environment: [String: String], processID: Int32, notifier: SystemdNotifier?, probe: HealthProbe, logger: Logger) {
        guard let notifier, let text = environment["WATCHDOG_USEC"], let microseconds = Double(text), microseconds.isFinite,
            microseconds >= 1000
        else { return nil }
        if let pid = environment["WATCHDOG_PID"], pid != String(processID) { return nil }
        self.notifier = notifier
        self.probe = probe
        self.interval = min(microseconds / 2e6, 3600)
        self.logger = logger
    }

    public func run() async throws {
        var wasHealthy = true
        let clock = ContinuousClock()
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            let started = clock.now
            // Probes take at most half an interval, so a ping still lands within the period.
            let stuck = await probe.unanswered(within: interval / 2)
            if stuck.isEmpty {
                notifier.watchdog()
                if !wasHealthy { logger.notice("every event loop and stream queue answers again: watchdog pings resumed") }
            } else if wasHealthy {
                logger.error("not answering: \(stuck.joined(separator: ", ")); watchdog pings withheld (systemd restarts a server that stays so)")
            }
            wasHealthy = stuck.isEmpty
            try? await Task.sleep(until: started + .seconds(interval), clock: clock)
        }
    }
}

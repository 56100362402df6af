import Glibc
import Dispatch
public import Logging

/// Tells systemd how the service is doing (sd_notify(3)): one datagram per message to the unix
/// socket named by `NOTIFY_SOCKET` (a path, or `@name` in the abstract namespace). Without the
/// variable every call does nothing, so the same binary runs anywhere.
public final class SystemdNotifier: Sendable {
    private let address: String
    private let logger: Logger

    /// Nil when the process was not started by systemd with `Type=notify` (no `NOTIFY_SOCKET`).
    public init?(environment: [String: String], logger: Logger) {
        guard let address = environment["NOTIFY_SOCKET"], !address.isEmpty, address.utf8.count < 108 else { return nil }
        self.address = address
        self.logger = logger
    }

    public func ready(status: String? = nil) { send(["READY=1"] + statusLine(status)) }
    public func reloading(status: String? = nil) {
        // systemd 253 and later also want MONOTONIC_USEC with RELOADING=1 (Type=notify-reload).
        // Dispatch's uptime is CLOCK_MONOTONIC on Linux.
        send(["RELOADING=1", "MONOTONIC_USEC=\(DispatchTime.now().uptimeNanoseconds / 1000)"] + statusLine(status))
    }
    public func stopping() { send(["STOPPING=1"]) }
    public func watchdog() { send(["WATCHDOG=1"]) }
    public func status(_ text: String) { send(statusLine(text)) }

    private func statusLine(_ text: String?) -> [String] {
        // One line: a newline would start another assignment.
        text.map { ["STATUS=" + String($0.map { $0.isNewline ? " " : $0 })] } ?? []
    }

    private func send(_ lines: [String]) {
        let message = Array(lines.joined(separator: "\n").utf8)
        let socket = Glibc.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard socket >= 0 else { return }
        defer { close(socket) }
        var target = sockaddr_un()
        target.sun_family = sa_family_t(AF_UNIX)
        var path = Array(address.utf8)
        // `@name`: the abstract namespace, spelled with a leading NUL in the address.
        let abstract = path.first == UInt8(ascii: "@")
        if abstract { path[0] = 0 }
        withUnsafeMutableBytes(of: &target.sun_path) { raw in
            for (index, byte) in path.enumerated() { raw[index] = byte }
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (abstract ? 0 : 1))
        let sent = message.withUnsafeBytes { bytes in
            withUnsafePointer(to: &target) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
                    sendto(socket, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), address, length)
                }
            }
        }
        if sent < 0 {
            logger.debug("could not notify systemd", metadata: ["errno": "\(errno)"])
        }
    }
}

import Foundation

/// The other end of sd_notify(3): a unix datagram socket the test binds and names in the child's
/// `NOTIFY_SOCKET`, as systemd does for a `Type=notify` service. A thread records every message
/// (its lines, e.g. `READY=1`, `STATUS=...`) with when it arrived.
final class NotifyListener: @unchecked Sendable {
    struct Message: Sendable {
        var lines: [String]
        var receivedAt: ContinuousClock.Instant

        func has(_ line: String) -> Bool { lines.contains(line) }
    }

    let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [Message] = []
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    init(path: String) throws {
        self.path = path
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPTestError.closed("making the notify socket: errno \(errno)") }
        guard bindUnix(fd, path: path) else {
            close(fd)
            throw HTTPTestError.closed("binding the notify socket \(path): errno \(errno)")
        }
        // Reads wake up every 100 ms to see whether the listener was stopped.
        var timeout = timeval(tv_sec: 0, tv_usec: 100_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let thread = Thread { [self] in receiveLoop() }
        thread.name = "notify-listener"
        thread.start()
    }

    private func receiveLoop() {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !lock.withLock({ stopped }) {
            let count = recv(fd, &buffer, buffer.count, 0)
            guard count > 0 else { continue }
            let text = String(decoding: buffer[0..<count], as: UTF8.self)
            let message = Message(lines: text.split(separator: "\n").map(String.init), receivedAt: .now)
            lock.withLock { received.append(message) }
        }
        finished.signal()
    }

    var messages: [Message] { lock.withLock { received } }

    /// Messages that carry `line`.
    func messages(with line: String) -> [Message] { messages.filter { $0.has(line) } }

    /// Waits until a message carrying `line` arrives, among those after the first `after`
    /// messages and received at `since` or later; its index.
    @discardableResult
    func waitFor(_ line: String, after: Int = 0, since: ContinuousClock.Instant? = nil, within seconds: Double) async throws -> Int {
        var found: Int?
        try await eventually(seconds, "\(line) on NOTIFY_SOCKET (got \(messages.map { $0.lines }))") {
            let all = messages
            found = all.indices.dropFirst(after).first { index in
                all[index].has(line) && (since.map { all[index].receivedAt >= $0 } ?? true)
            }
            return found != nil
        }
        return found!
    }

    func stop() {
        guard !lock.withLock({ () -> Bool in
            defer { stopped = true }
            return stopped
        }) else { return }
        finished.wait()
        close(fd)
        unlink(path)
    }

    deinit { stop() }
}

/// Binds `fd` to the unix socket `path`.
func bindUnix(_ fd: Int32, path: String) -> Bool {
    var address = sockaddr_un()
    address.sun_family = sa_family_t(AF_UNIX)
    let bytes = Array(path.utf8)
    guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
    withUnsafeMutableBytes(of: &address.sun_path) { raw in
        for (index, byte) in bytes.enumerated() { raw[index] = byte }
    }
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) == 0 }
    }
}

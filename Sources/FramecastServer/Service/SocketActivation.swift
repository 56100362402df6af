public import Glibc

/// systemd's socket activation protocol (sd_listen_fds(3)): a launcher that bound the sockets
/// passes them from descriptor 3 on, says how many in `LISTEN_FDS` and whom they are for in
/// `LISTEN_PID`. Any launcher that speaks it works (`systemd-socket-activate` in the tests).
public enum SocketActivation {
    /// The first descriptor passed (`SD_LISTEN_FDS_START`).
    static let firstDescriptor: Int32 = 3

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case malformed(String)
        case notASocket(Int32)

        public var description: String {
            switch self {
            case .malformed(let reason): "socket activation: \(reason)"
            case .notASocket(let descriptor): "socket activation: descriptor \(descriptor) is not a listening stream socket"
            }
        }
    }

    /// The descriptors passed to this process, or none when it was not socket-activated. Reads
    /// the variables once and removes them, so that nothing this process starts takes the
    /// sockets for its own; marks each descriptor close-on-exec for the same reason.
    public static func takeListeningSockets(environment: [String: String], processID: Int32 = getpid()) throws(Failure) -> [Int32] {
        guard let countText = environment["LISTEN_FDS"] else { return [] }
        defer {
            unsetenv("LISTEN_FDS")
            unsetenv("LISTEN_PID")
            unsetenv("LISTEN_FDNAMES")
        }
        // For another process (inherited through a shell that did not clear them): not ours.
        guard let pidText = environment["LISTEN_PID"], let pid = Int32(pidText), pid == processID else { return [] }
        guard let count = Int32(countText), count >= 0, count <= 64 else {
            throw .malformed("LISTEN_FDS is '\(countText.prefix(20))', not a count from 0 to 64")
        }
        var descriptors: [Int32] = []
        for descriptor in firstDescriptor..<(firstDescriptor + count) {
            guard isListeningStreamSocket(descriptor) else { throw .notASocket(descriptor) }
            _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC)
            descriptors.append(descriptor)
        }
        return descriptors
    }

    private static func isListeningStreamSocket(_ descriptor: Int32) -> Bool {
        var type: Int32 = 0
        var listening: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        guard getsockopt(descriptor, SOL_SOCKET, SO_TYPE, &type, &length) == 0, type == Int32(SOCK_STREAM.rawValue) else { return false }
        length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(descriptor, SOL_SOCKET, SO_ACCEPTCONN, &listening, &length) == 0 && listening != 0
    }
}

/// What an inherited socket is bound to.
enum InheritedSockets {
    /// The socket's local IP address as text (`127.0.0.1`, `::1`), or nil for a unix socket.
    static func localHost(of descriptor: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let got = withUnsafeMutablePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(descriptor, $0, &length) }
        }
        guard got == 0 else { return nil }
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        switch Int32(storage.ss_family) {
        case AF_INET:
            var address = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in.self) }.sin_addr
            guard inet_ntop(AF_INET, &address, &text, socklen_t(text.count)) != nil else { return nil }
        case AF_INET6:
            var address = withUnsafeBytes(of: storage) { $0.load(as: sockaddr_in6.self) }.sin6_addr
            guard inet_ntop(AF_INET6, &address, &text, socklen_t(text.count)) != nil else { return nil }
        default:
            return nil
        }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

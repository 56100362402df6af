/// Where the server accepts connections. Any number at once: `--host`/`--port`, `--unix`, and the
/// sockets systemd passes (socket activation) each become one.
public enum ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// Bound here, at start-up. Port 0 picks a free port.
    case tcp(host: String, port: Int)
    /// A unix-domain socket file, made with `mode` (an existing socket file there is replaced).
    case unix(path: String, mode: UInt16)
    /// A socket already bound and listening, inherited at this descriptor (`LISTEN_FDS`).
    case inherited(descriptor: Int32)

    public var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "http://[\(host)]:\(port)/" : "http://\(host):\(port)/"
        case .unix(let path, _): "unix:\(path)"
        case .inherited(let descriptor): "inherited socket (descriptor \(descriptor))"
        }
    }
}

/// An address as bound: a TCP port 0 becomes the port picked.
public struct BoundListener: Sendable, Equatable, CustomStringConvertible {
    public let address: ListenAddress
    /// The local TCP port (for `.tcp` and an inherited TCP socket); nil on a unix socket.
    public let port: Int?
    /// Serves HTTPS (`--tls-cert`).
    public let secure: Bool
    /// How the listener is reached, e.g. `http://127.0.0.1:8080/` or `unix:/run/framecast.sock`.
    public let description: String
}

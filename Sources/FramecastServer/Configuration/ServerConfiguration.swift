public import MediaPipeline

/// One stream to serve: a URL-safe name and its gst-launch description (variables expanded).
public struct StreamDefinition: Sendable, Equatable {
    public var name: String
    public var pipeline: String
    /// Named renditions its pipeline file declares (`#@rendition NAME=width=320,quality=50`).
    public var renditions: [String: RenditionRequest]

    public init(name: String, pipeline: String, renditions: [String: RenditionRequest] = [:]) {
        self.name = name
        self.pipeline = pipeline
        self.renditions = renditions
    }
}

/// Everything `buildApplication` needs, filled from the command line (or by tests).
public struct ServerConfiguration: Sendable {
    /// The streams to serve; `/stream` and `/snapshot` serve the first in name order.
    public var streams: [StreamDefinition]
    public var host = "127.0.0.1"
    /// 0 picks a free port (tests); the bound port is passed to `onServerRunning`.
    public var port = 8080
    /// Where to accept connections; empty: `host` and `port` alone.
    public var listeners: [ListenAddress] = []
    /// `--tls-cert`/`--tls-key`: TCP listeners (and sockets systemd passes) serve HTTPS, with
    /// HTTP/2 by ALPN; nil serves plain HTTP. A unix socket stays plain (a proxy in front).
    public var tls: TLSCertificates?
    /// `--hsts`: seconds of `Strict-Transport-Security` on HTTPS responses; 0 sends none.
    public var hstsMaxAge = 0
    /// `--redirect-http`: a plain-HTTP port on `host` that redirects every request to HTTPS.
    public var redirectHTTPPort: Int?
    /// Seconds between checks of the certificate files for a renewal (SIGHUP checks at once).
    public var tlsCheckInterval: Double = 60
    /// Reloads the streams (SIGHUP, `POST /api/reload`); nil: the route is not served.
    public var reloader: StreamReloader?
    /// Absolute path of the page's folder, or nil to serve no page.
    public var webRoot: String?
    /// Lifecycle settings shared by every stream.
    public var stream = StreamSettings()
    /// Seconds a connection may take to send a request's headers (and may stay idle between
    /// requests): slow header senders are closed.
    public var headerTimeout: Double = 10
    /// Seconds a write to a client may take to complete before the client is disconnected.
    public var clientTimeout: Double = 30
    /// Send multipart stream clients each frame from a memory file with `sendfile(2)` (no copy of
    /// the frame per client in the kernel); false writes it from memory like any other buffer.
    public var sendfile = true
    /// Streaming clients (HTTP streams and WebSockets) served at once; past it, 503.
    public var maxClients = 256
    /// HTTP Basic credentials required on every route but `/healthz`; nil leaves the server open.
    public var access: AccessControl?
    /// The key of signed links (`--link-key-file`): `?token=` opens one stream's pictures without
    /// credentials, and `POST /api/links` makes such links. Nil: no links.
    public var links: LinkKeyStore?
    /// The one origin allowed to read responses from a script on another site (CORS); nil: none.
    public var allowOrigin: String?
    /// Host names served besides the loopback names on a loopback bind (`--allow-host`); on other
    /// binds, when not empty, the only names served. See `HostPolicy`.
    public var allowHosts: [String] = []
    /// Seconds a WebSocket may stay open without sending a valid subscription.
    public var webSocketSubscribeTimeout: Double = 10
    /// Renditions of one stream alive at once (`--max-renditions`); 0 serves none.
    public var maxRenditions = 4
    /// `--rendition` flags (a stream's pipeline file may name more: `StreamDefinition.renditions`).
    public var renditions: [NamedRendition] = []
    /// Microseconds every rendition encoder waits per picture: tests of a slow rendition only.
    var renditionEncoderDelayForTesting = 0
    /// Renditions of one stream made per second once a burst is spent (see `RenditionSet`).
    var renditionCreationsPerSecond = 2.0

    /// The addresses listened on.
    var listenAddresses: [ListenAddress] {
        listeners.isEmpty ? [.tcp(host: host, port: port)] : listeners
    }

    /// The named renditions of `stream`: its file's, then the flags' (which win).
    func namedRenditions(of stream: StreamDefinition) -> [String: RenditionRequest] {
        var named = stream.renditions
        for rendition in renditions where rendition.stream == nil || rendition.stream == stream.name {
            named[rendition.name] = rendition.request
        }
        return named
    }

    public init(streams: [StreamDefinition]) {
        self.streams = streams
    }

    /// One stream named `main`.
    public init(pipeline: String) {
        self.init(streams: [StreamDefinition(name: "main", pipeline: pipeline)])
    }
}

extension ServerConfiguration {
    /// Why an `--allow-host` value cannot be served (it is no host name), or nil.
    public static func allowHostProblem(_ value: String) -> String? {
        HostPolicy.hostName(of: value) == nil
            ? "--allow-host takes a host name such as cam.example.org or 192.168.1.20 (a port is ignored), not '\(BoundedNumber.quotable(value))'"
            : nil
    }
}

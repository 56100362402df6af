import Foundation

/// A real load balancer (Debian's nginx or HAProxy) in front of relay edges, run from a temporary
/// directory with the repository's own configuration file (packaging/nginx/framecast-edges.conf,
/// packaging/haproxy/framecast-edges.cfg): the file is used as it is, with only its example
/// addresses replaced by loopback ports. Each replaced text must occur exactly once, so the
/// documented file and what the test runs cannot drift apart.
final class LoadBalancer: @unchecked Sendable {
    enum Kind: String, Sendable {
        case nginx, haproxy

        var executable: String { self == .nginx ? "/usr/sbin/nginx" : "/usr/sbin/haproxy" }
        /// The configuration in the repository, relative to its root.
        var configuration: String { self == .nginx ? "packaging/nginx/framecast-edges.conf" : "packaging/haproxy/framecast-edges.cfg" }
        /// The example edges' addresses in the file, in order, and how it listens.
        static let exampleEdges = ["192.0.2.11:8080", "192.0.2.12:8080"]
        var exampleListen: (text: String, replacement: (Int) -> String) {
            switch self {
            case .nginx: ("listen 80;", { "listen 127.0.0.1:\($0);" })
            case .haproxy: ("bind :80", { "bind 127.0.0.1:\($0)" })
            }
        }
    }

    let kind: Kind
    let port: Int
    let directory: TemporaryDirectory
    let child: ChildProcess

    static let repository = URL(fileURLWithPath: TestServer.webRoot).deletingLastPathComponent()

    static func isInstalled(_ kind: Kind) -> Bool { FileManager.default.isExecutableFile(atPath: kind.executable) }

    /// The repository's configuration for `kind` with the edges at 127.0.0.1:`edgePorts` and the
    /// listener at 127.0.0.1:`port`.
    static func configuration(_ kind: Kind, edgePorts: [Int], port: Int) throws -> String {
        var text = try String(contentsOf: repository.appendingPathComponent(kind.configuration), encoding: .utf8)
        precondition(edgePorts.count == Kind.exampleEdges.count)
        var replacements = zip(Kind.exampleEdges, edgePorts).map { ($0, "127.0.0.1:\($1)") }
        replacements.append((kind.exampleListen.text, kind.exampleListen.replacement(port)))
        for (example, replacement) in replacements {
            let occurrences = text.components(separatedBy: example).count - 1
            guard occurrences == 1 else {
                throw HTTPTestError.malformed("\(kind.configuration) has '\(example)' \(occurrences) times (the test replaces it once): update LoadBalancer")
            }
            text = text.replacingOccurrences(of: example, with: replacement)
        }
        return text
    }

    init(_ kind: Kind, edgePorts: [Int]) throws {
        self.kind = kind
        port = try FramecastProcess.freePort()
        directory = try TemporaryDirectory(kind.rawValue)
        let prefix = directory.url.path
        let site = try Self.configuration(kind, edgePorts: edgePorts, port: port)
        switch kind {
        case .nginx:
            // The site file goes in an http block as Debian's nginx.conf includes conf.d/*.conf;
            // the main context only moves nginx's own files into the temporary directory.
            try site.write(toFile: directory.file("framecast-edges.conf"), atomically: true, encoding: .utf8)
            let main = """
                daemon off;
                master_process on;
                worker_processes 1;
                pid \(prefix)/nginx.pid;
                error_log \(prefix)/error.log notice;
                events { worker_connections 1024; }
                http {
                    access_log off;
                    client_body_temp_path \(prefix)/client_body;
                    proxy_temp_path \(prefix)/proxy;
                    fastcgi_temp_path \(prefix)/fastcgi;
                    uwsgi_temp_path \(prefix)/uwsgi;
                    scgi_temp_path \(prefix)/scgi;
                    include \(prefix)/framecast-edges.conf;
                }
                """
            try main.write(toFile: directory.file("nginx.conf"), atomically: true, encoding: .utf8)
            child = ChildProcess(kind.executable, ["-p", prefix, "-c", directory.file("nginx.conf"), "-e", "\(prefix)/error.log"])
        case .haproxy:
            // The whole file, as /etc/haproxy/haproxy.cfg; -db keeps it in the foreground.
            try site.write(toFile: directory.file("haproxy.cfg"), atomically: true, encoding: .utf8)
            child = ChildProcess(kind.executable, ["-db", "-f", directory.file("haproxy.cfg")])
        }
    }

    /// Starts it and waits until it answers /healthz through an edge.
    func run() async throws {
        try child.run()
        try await eventually(10, "\(kind) listening on \(port): \(child.standardErrorText) \(errorLog)") {
            guard child.isRunning else { throw HTTPTestError.closed("\(kind) exited: \(child.standardErrorText) \(errorLog)") }
            return (try? await TestServer(port: port).get("/healthz").0.status) == 200
        }
    }

    var errorLog: String {
        (try? String(contentsOfFile: directory.file("error.log"), encoding: .utf8)) ?? ""
    }

    func stop() async { await child.stop() }
}

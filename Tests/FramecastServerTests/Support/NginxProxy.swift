import Foundation

/// nginx in front of a unix socket, as a site would put it (`proxy_pass http://unix:PATH:`),
/// run from a temporary directory: its configuration, pid file, logs and temp paths all there.
final class NginxProxy: @unchecked Sendable {
    static let executable = "/usr/sbin/nginx"
    let port: Int
    let directory: URL
    let child: ChildProcess

    /// Starts nginx proxying 127.0.0.1:`port` (a free one) to `socketPath`; `run` waits until it
    /// answers.
    init(socketPath: String, directory: URL) throws {
        port = try FramecastProcess.freePort()
        self.directory = directory
        let prefix = directory.path
        let configuration = """
            daemon off;
            master_process on;
            worker_processes 1;
            # The tests run as root; workers as nobody could not connect to a 600 socket.
            user root;
            pid \(prefix)/nginx.pid;
            error_log \(prefix)/error.log info;
            events { worker_connections 64; }
            http {
                access_log \(prefix)/access.log;
                client_body_temp_path \(prefix)/client_body;
                proxy_temp_path \(prefix)/proxy;
                fastcgi_temp_path \(prefix)/fastcgi;
                uwsgi_temp_path \(prefix)/uwsgi;
                scgi_temp_path \(prefix)/scgi;
                server {
                    listen 127.0.0.1:\(port);
                    location / {
                        proxy_pass http://unix:\(socketPath):;
                        proxy_http_version 1.1;
                        proxy_set_header Connection "";
                        proxy_set_header Host $host;
                        proxy_buffering off;
                        proxy_read_timeout 60s;
                    }
                }
            }
            """
        let path = directory.appendingPathComponent("nginx.conf").path
        try configuration.write(toFile: path, atomically: true, encoding: .utf8)
        child = ChildProcess(Self.executable, ["-p", prefix, "-c", path, "-e", "\(prefix)/error.log"])
    }

    static var isInstalled: Bool { FileManager.default.isExecutableFile(atPath: executable) }

    func run() async throws {
        try child.run()
        try await eventually(10, "nginx listening on \(port); error.log: \(errorLog)") {
            guard child.isRunning else { throw HTTPTestError.closed("nginx exited: \(child.standardErrorText) \(errorLog)") }
            return (try? await TestServer(port: port).get("/healthz")) != nil
        }
    }

    var errorLog: String {
        (try? String(contentsOfFile: directory.appendingPathComponent("error.log").path, encoding: .utf8)) ?? ""
    }

    func stop() async { await child.stop() }
}

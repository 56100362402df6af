import Foundation

/// The built `framecast` executable run as a child process: for exit statuses, signals and the
/// server's own resident memory.
final class FramecastProcess: @unchecked Sendable {
    let process = Process()
    private let standardError = Pipe()
    private let standardOutput = Pipe()
    private(set) var port = 0

    /// Built beside the test bundle (the test target depends on the executable target).
    static var executable: URL {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
            .deletingLastPathComponent().appendingPathComponent("framecast")
    }

    /// `environment`: variables added to the test process's own.
    init(_ arguments: [String], environment: [String: String] = [:]) {
        process.executableURL = Self.executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { _, added in added }
        }
        process.standardError = standardError
        process.standardOutput = standardOutput
    }

    /// Runs to completion (for `--check` and start-up errors): status, stdout, stderr.
    static func runToExit(
        _ arguments: [String], environment: [String: String] = [:], timeout: Double = 30
    ) async throws -> (status: Int32, output: String, error: String) {
        let child = FramecastProcess(arguments, environment: environment)
        try child.process.run()
        try await child.waitForExit(timeout: timeout)
        let output = String(decoding: child.standardOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let error = String(decoding: child.standardError.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        return (child.process.terminationStatus, output, error)
    }

    /// Starts a server on a free port and waits until it accepts connections (answering
    /// `/api/status` with `awaitStatus`).
    static func serve(_ arguments: [String], environment: [String: String] = [:], awaitStatus: Int = 200) async throws -> FramecastProcess {
        try await serve(port: try freePort(), arguments, environment: environment, awaitStatus: awaitStatus)
    }

    /// `serve` on a port of the test's choosing (a server started again on the same port).
    static func serve(port: Int, _ arguments: [String], environment: [String: String] = [:], awaitStatus: Int = 200) async throws -> FramecastProcess {
        let child = FramecastProcess(["--port", String(port)] + arguments, environment: environment)
        child.port = port
        child.collectStandardError()
        try child.process.run()
        try await eventually(20, "framecast listening on \(port)") {
            guard child.process.isRunning else { throw HTTPTestError.closed("framecast exited at start-up") }
            return (try? await TestServer(port: port).get("/api/status").0.status) == awaitStatus
        }
        return child
    }

    /// Like `serve`, over HTTPS (the arguments give `--tls-cert` and `--tls-key`): ready when
    /// curl gets `/api/status` over TLS.
    static func serveHTTPS(_ arguments: [String], environment: [String: String] = [:]) async throws -> FramecastProcess {
        let port = try freePort()
        let child = FramecastProcess(["--port", String(port)] + arguments, environment: environment)
        child.port = port
        child.collectStandardError()
        try child.process.run()
        try await eventually(20, "framecast serving HTTPS on \(port)") {
            guard child.process.isRunning else { throw HTTPTestError.closed("framecast exited at start-up: \(child.standardErrorText)") }
            return (try? Curl.writeOut("%{http_code}", ["--max-time", "2", "https://127.0.0.1:\(port)/api/status"])) == "200"
        }
        return child
    }

    private let collected = NSLock()
    private var errorText = Data()

    /// Reads the server's stderr as it comes (so a chatty server never blocks on a full pipe).
    private func collectStandardError() {
        standardError.fileHandleForReading.readabilityHandler = { [weak self] handle in
            let data = handle.availableData
            guard let self, !data.isEmpty else { return }
            self.collected.withLock { self.errorText.append(data) }
        }
    }

    /// What the server has written to stderr so far.
    var standardErrorText: String {
        collected.withLock { String(decoding: errorText, as: UTF8.self) }
    }

    func waitForExit(timeout: Double) async throws {
        try await eventually(timeout, "framecast to exit") { !process.isRunning }
    }

    var server: TestServer { TestServer(port: port) }

    /// Resident memory of the server process, in bytes.
    var residentBytes: Int {
        let status = (try? String(contentsOfFile: "/proc/\(process.processIdentifier)/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    func terminate() {
        if process.isRunning { process.terminate() }
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
        }
    }

    /// Asks the kernel for a free port by binding port 0.
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        guard let port = bindToFreeLoopbackPort(fd) else { throw HTTPTestError.closed("binding a free port") }
        return port
    }
}

/// Binds `fd` (an AF_INET stream socket) to 127.0.0.1 on a port the kernel picks, and returns
/// that port; nil when the kernel refused.
func bindToFreeLoopbackPort(_ fd: Int32) -> Int? {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    return bound ? Int(UInt16(bigEndian: address.sin_port)) : nil
}

/// A client that sends its request and then never reads: the kernel's buffers fill up and the
/// server's writes to it stop completing.
final class StalledClient {
    let fd: Int32

    convenience init(port: Int, path: String) throws {
        try self.init(port: port, request: Array("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: stalled\r\n\r\n".utf8))
    }

    init(port: Int, request: [UInt8]) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var small: Int32 = 4096
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, socklen_t(MemoryLayout<Int32>.size))
        guard connectToLoopback(fd, port: port) else { throw HTTPTestError.closed("connecting the stalled client") }
        _ = request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
    }

    /// Sends without blocking (errors ignored: the peer may have closed).
    func sendNow(_ bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT)) }
    }

    /// Whether the server closed or reset the connection (reads nothing that is waiting).
    func isClosedByPeer() -> Bool {
        var byte: UInt8 = 0
        let count = recv(fd, &byte, 1, Int32(MSG_PEEK | MSG_DONTWAIT))
        if count == 0 { return true }
        return count < 0 && errno != EAGAIN && errno != EWOULDBLOCK
    }

    /// Reads everything queued for this socket; true when it ends in end-of-file or a reset (the
    /// server closed it) within `seconds`.
    func drainsToEndOfFile(within seconds: Double) -> Bool {
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var buffer = [UInt8](repeating: 0, count: 65536)
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let count = recv(fd, &buffer, buffer.count, 0)
            if count == 0 { return true }
            if count < 0 {
                if errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR { continue }
                return true  // ECONNRESET: closed too
            }
        }
        return false
    }

    deinit { close(fd) }
}

/// Connects a blocking socket to 127.0.0.1:`port`.
func connectToLoopback(_ fd: Int32, port: Int) -> Bool {
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    return withUnsafePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
    }
}

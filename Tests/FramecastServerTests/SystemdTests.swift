import Foundation
import Glibc
import Testing

/// The `framecast` executable as a systemd service sees it, without a running systemd: socket
/// activation through `systemd-socket-activate`, sd_notify to a datagram socket the test binds,
/// the watchdog withheld while a stream's queue is blocked, `--unix` behind nginx, journald's
/// log lines, and the service flags' bad values.
@Suite(.serialized) struct SystemdTests {
    static let framecast = FramecastProcess.executable.path
    static let socketActivate = "/usr/bin/systemd-socket-activate"

    /// systemd-socket-activate passes the program only the variables named with `-E`: the
    /// sanitizers' options too, when the suite runs under one (`make test-sanitize`).
    static var sanitizerOptions: [String] {
        ["ASAN_OPTIONS", "TSAN_OPTIONS"].filter { ProcessInfo.processInfo.environment[$0] != nil }.flatMap { ["-E", $0] }
    }
    /// Small and slow: every test encodes for real on two cores.
    static let small = TestPipelines.pattern(width: 160, height: 120, fps: "10/1")

    /// The test's environment without anything that would make framecast a service by accident.
    static func environment(_ changes: [String: String?] = [:]) -> [String: String] {
        var base: [String: String?] = [
            "NOTIFY_SOCKET": nil, "WATCHDOG_USEC": nil, "WATCHDOG_PID": nil, "JOURNAL_STREAM": nil,
            "LISTEN_FDS": nil, "LISTEN_PID": nil, "LISTEN_FDNAMES": nil,
        ]
        base.merge(changes) { _, new in new }
        return ChildProcess.environment(base)
    }

    /// Waits until framecast answers `/api/status` on `port`.
    static func awaitListening(_ child: ChildProcess, port: Int) async throws {
        try await eventually(20, "framecast listening on \(port)") {
            guard child.isRunning else { throw HTTPTestError.closed("framecast exited at start-up: \(child.standardErrorText)") }
            return (try? await TestServer(port: port).get("/api/status").0.status) == 200
        }
    }

    static func streamNames(_ body: [UInt8]) throws -> [String] {
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        let streams = try #require(json["streams"] as? [[String: Any]])
        return streams.compactMap { $0["name"] as? String }.sorted()
    }

    /// Reads `count` real frames of `path` through a TCP port (framecast's, or nginx's).
    static func frames(port: Int, path: String, count: Int) async throws -> [ReceivedPart] {
        try await withDeadline(15, "\(count) frames of \(path) on \(port)") {
            try await TestServer(port: port).stream(path: path) { reader, parts in
                var frames: [ReceivedPart] = []
                while frames.count < count { frames.append(try #require(try await parts.nextFrame(&reader))) }
                return frames
            }
        }
    }

    // MARK: Socket activation

    @Test func socketActivationServesThePassedSocketAndExitsWhenIdle() async throws {
        let port = try FramecastProcess.freePort()
        // The --port given is one the test holds: framecast would fail to bind it, so serving at
        // all shows that it took the socket systemd-socket-activate passed.
        let held = try HeldPort()
        let child = ChildProcess(
            Self.socketActivate,
            ["-l", "127.0.0.1:\(port)"] + Self.sanitizerOptions
                + [Self.framecast, "--pipeline", Self.small, "--host", "127.0.0.1", "--port", String(held.port), "--exit-when-idle", "1"],
            environment: Self.environment())
        try child.run()
        // The launcher binds, waits for the first connection, then execs framecast in its place.
        try await eventually(10, "systemd-socket-activate listening") { child.standardErrorText.contains("Listening on") }

        let frames = try await withDeadline(20, "socket-activated stream") {
            try await TestServer(port: port).stream(path: "/stream") { reader, parts in
                var frames: [ReceivedPart] = []
                while frames.count < 3 { frames.append(try #require(try await parts.nextFrame(&reader))) }
                // With the viewer still there (--exit-when-idle counts viewers, not requests).
                let (head, body) = try await TestServer(port: port).get("/api/streams")
                #expect(head.status == 200)
                #expect(try Self.streamNames(body) == ["main"])
                #expect(listeningTCPPorts(of: child.pid) == [port], "framecast listens on its own")
                return frames
            }
        }
        for frame in frames {
            let size = try #require(jpegDimensions(frame.body))
            #expect(size.width == 160 && size.height == 120)
        }
        #expect(child.standardErrorText.contains("--host and --port are ignored"), "\(child.standardErrorText)")

        // The viewer left: a second (and a poll) later framecast ends by itself, successfully.
        let status = try await child.waitForExit(within: 10)
        #expect(status == 0, "stderr: \(child.standardErrorText)")
        #expect(child.standardErrorText.contains("--exit-when-idle"))
    }

    /// `LISTEN_PID` names framecast (the launcher execs it), so a bad `LISTEN_FDS` is its own.
    @Test(arguments: [
        ("garbage", "LISTEN_FDS is 'garbage'"),
        ("-1", "LISTEN_FDS is '-1'"),
        ("65", "LISTEN_FDS is '65'"),
        // One socket passed (descriptor 3); descriptor 4 is no listening socket.
        ("2", "descriptor 4 is not a listening stream socket"),
    ])
    func badListenFDsIsAStartupError(count: String, says: String) async throws {
        let port = try FramecastProcess.freePort()
        let child = ChildProcess(
            Self.socketActivate, ["-l", "127.0.0.1:\(port)", "-E", "LISTEN_FDS=\(count)"] + Self.sanitizerOptions + [Self.framecast, "--pipeline", Self.small],
            environment: Self.environment())
        try child.run()
        try await eventually(10, "systemd-socket-activate listening") { child.standardErrorText.contains("Listening on") }
        // The first connection makes the launcher exec framecast.
        let trigger = try StalledClient(port: port, path: "/api/status")
        let status = try await child.waitForExit(within: 15)
        #expect(status == 2, "stderr: \(child.standardErrorText)")
        #expect(child.standardErrorText.contains(says), "stderr: \(child.standardErrorText)")
        _ = trigger
    }

    // MARK: sd_notify

    @Test func watchdogPingsOnlyWhileEveryStreamQueueAnswers() async throws {
        let directory = try TemporaryDirectory("watchdog")
        let fifo = directory.file("camera.mjpeg")
        try #require(mkfifo(fifo, 0o600) == 0)
        let notify = try NotifyListener(path: directory.file("notify"))
        defer { notify.stop() }
        let port = try FramecastProcess.freePort()
        let child = ChildProcess(
            Self.framecast,
            [
                "--port", String(port), "--stream", "main=\(Self.small)",
                // filesrc opens its file on start, on the stream's queue: a FIFO with no writer
                // blocks that open(2), as a hung camera driver would.
                "--stream", "fifo=filesrc location=\(fifo) ! jpegparse ! appsink name=sink",
            ],
            environment: Self.environment(["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000"]))
        try child.run()

        let ready = try await notify.waitFor("READY=1", within: 20)
        #expect(notify.messages[ready].lines.contains { $0.hasPrefix("STATUS=") })
        try await Self.awaitListening(child, port: port)
        // Every 200 ms while healthy.
        let healthyFrom = ContinuousClock.now
        try await eventually(5, "three watchdog pings") {
            notify.messages(with: "WATCHDOG=1").filter { $0.receivedAt >= healthyFrom }.count >= 3
        }
        let (snapshotHead, jpeg) = try await TestServer(port: port).get("/snapshot/main")
        #expect(snapshotHead.status == 200)

        // A viewer starts the FIFO stream: its queue blocks in open(2).
        let viewer = try StalledClient(port: port, path: "/stream/fifo")
        try await eventually(5, "the probe to report the blocked queue; stderr: \(child.standardErrorText)") {
            child.standardErrorText.contains("not answering: stream fifo's queue")
        }
        // A ping sent just before the report may still be on its way to the listener.
        let quietFrom = ContinuousClock.now + .milliseconds(100)
        let pingWhileBlocked = try? await notify.waitFor("WATCHDOG=1", since: quietFrom, within: 1.5)
        #expect(pingWhileBlocked == nil, "a watchdog ping while a stream's queue was blocked: \(notify.messages.map(\.lines))")
        // The event loops still answer: only the queue is stuck.
        #expect(try await TestServer(port: port).get("/healthz").0.status == 200)

        // A writer opens the FIFO: open(2) returns and the queue answers again. Non-blocking, so
        // the test fails instead of hanging if framecast was not waiting in open(2).
        let writer = open(fifo, O_WRONLY | O_NONBLOCK)
        try #require(writer >= 0, "opening the FIFO for writing: errno \(errno) (ENXIO: framecast was not reading it)")
        _ = jpeg.withUnsafeBytes { write(writer, $0.baseAddress, $0.count) }
        let resumedFrom = ContinuousClock.now
        try await notify.waitFor("WATCHDOG=1", since: resumedFrom, within: 3)
        try await eventually(3, "the resumed log line") { child.standardErrorText.contains("watchdog pings resumed") }
        close(writer)
        _ = viewer

        child.signal(SIGTERM)
        try await notify.waitFor("STOPPING=1", within: 5)
        let status = try await child.waitForExit(within: 10)
        #expect(status == 0, "stderr: \(child.standardErrorText)")
    }

    @Test func reloadAndStopAreAnnounced() async throws {
        let directory = try TemporaryDirectory("notify")
        let notify = try NotifyListener(path: directory.file("notify"))
        defer { notify.stop() }
        let port = try FramecastProcess.freePort()
        let child = ChildProcess(
            Self.framecast, ["--port", String(port), "--pipeline", Self.small],
            environment: Self.environment(["NOTIFY_SOCKET": notify.path]))
        try child.run()
        let ready = try await notify.waitFor("READY=1", within: 20)
        try await Self.awaitListening(child, port: port)
        // No WATCHDOG_USEC, no pings.
        #expect(notify.messages(with: "WATCHDOG=1").isEmpty)

        child.signal(SIGHUP)
        let reloading = try await notify.waitFor("RELOADING=1", after: ready + 1, within: 10)
        #expect(notify.messages[reloading].lines.contains { $0.hasPrefix("MONOTONIC_USEC=") }, "\(notify.messages[reloading].lines)")
        try await notify.waitFor("READY=1", after: reloading + 1, within: 10)
        #expect(try await TestServer(port: port).get("/api/status").0.status == 200)

        child.signal(SIGTERM)
        try await notify.waitFor("STOPPING=1", within: 5)
        let status = try await child.waitForExit(within: 10)
        #expect(status == 0, "stderr: \(child.standardErrorText)")
    }

    // MARK: --unix

    @Test func unixSocketBehindNginx() async throws {
        try #require(NginxProxy.isInstalled, "nginx is not installed: run scripts/install-deps.sh")
        let directory = try TemporaryDirectory("unix")
        let socketPath = directory.file("framecast.sock")
        let child = ChildProcess(
            Self.framecast, ["--unix", socketPath, "--unix-mode", "600", "--pipeline", Self.small], environment: Self.environment())
        try child.run()
        try await eventually(20, "framecast on \(socketPath)") {
            guard child.isRunning else { throw HTTPTestError.closed("framecast exited: \(child.standardErrorText)") }
            return (try? await unixGet(socketPath: socketPath, "/api/status").0.status) == 200
        }
        var status = stat()
        try #require(stat(socketPath, &status) == 0)
        #expect(status.st_mode & S_IFMT == S_IFSOCK)
        #expect(status.st_mode & 0o7777 == 0o600, "mode \(String(status.st_mode & 0o7777, radix: 8))")
        // --unix alone: no TCP port, the default 8080 included.
        #expect(listeningTCPPorts(of: child.pid).isEmpty, "\(listeningTCPPorts(of: child.pid))")

        let nginx = try NginxProxy(socketPath: socketPath, directory: directory.url)
        try await finally({ await nginx.stop() }) {
            try await nginx.run()
            let (head, body) = try await TestServer(port: nginx.port).get("/api/streams")
            #expect(head.status == 200, "\(String(decoding: body, as: UTF8.self)) \(nginx.errorLog)")
            #expect(try Self.streamNames(body) == ["main"])
            let frames = try await Self.frames(port: nginx.port, path: "/stream", count: 5)
            for frame in frames {
                let size = try #require(jpegDimensions(frame.body))
                #expect(size.width == 160 && size.height == 120)
            }
        }
        await child.stop()
        #expect(child.process.terminationReason == .exit && child.process.terminationStatus == 0, "stderr: \(child.standardErrorText)")
    }

    @Test func hostAndUnixServeBoth() async throws {
        let directory = try TemporaryDirectory("both")
        let socketPath = directory.file("framecast.sock")
        let port = try FramecastProcess.freePort()
        let child = ChildProcess(
            Self.framecast, ["--host", "127.0.0.1", "--port", String(port), "--unix", socketPath, "--pipeline", Self.small],
            environment: Self.environment())
        try child.run()
        try await Self.awaitListening(child, port: port)
        let (head, body) = try await unixGet(socketPath: socketPath, "/api/streams")
        #expect(head.status == 200)
        #expect(try Self.streamNames(body) == ["main"])
        #expect(listeningTCPPorts(of: child.pid) == [port])
        var status = stat()
        try #require(stat(socketPath, &status) == 0)
        #expect(status.st_mode & 0o7777 == 0o660, "the default --unix-mode: \(String(status.st_mode & 0o7777, radix: 8))")
        let frames = try await Self.frames(port: port, path: "/stream", count: 2)
        #expect(frames.count == 2)
        await child.stop()
    }

    // MARK: journald

    @Test func journalLinesCarryAPriorityAndNoTimestamp() async throws {
        let standardError = Pipe()
        var status = stat()
        try #require(fstat(standardError.fileHandleForWriting.fileDescriptor, &status) == 0)
        let port = try FramecastProcess.freePort()
        // 127.0.0.2 (loopback on Linux) without --auth logs a warning: a second priority.
        let arguments = ["--host", "127.0.0.2", "--port", String(port), "--pipeline", Self.small]
        let journal = ChildProcess(
            Self.framecast, arguments, environment: Self.environment(["JOURNAL_STREAM": "\(status.st_dev):\(status.st_ino)"]),
            standardError: standardError)
        try journal.run()
        try await eventually(20, "the serving line; stderr: \(journal.standardErrorText)") {
            guard journal.isRunning else { throw HTTPTestError.closed("framecast exited: \(journal.standardErrorText)") }
            return journal.standardErrorText.contains("serving ")
        }
        await journal.stop()
        let lines = journal.standardErrorLines
        #expect(lines.contains { $0.hasPrefix("<6>framecast: serving ") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("<4>framecast: listening on 127.0.0.2 without authentication") }, "\(lines)")
        for line in lines {
            #expect(line.wholeMatch(of: /<[0-7]>\S+: .*/) != nil, "not a journal line: \(line)")
            #expect(line.firstMatch(of: Self.isoTimestamp) == nil, "a timestamp journald adds itself: \(line)")
        }

        // Without JOURNAL_STREAM, or with one that names another file (a variable inherited by a
        // process whose stderr is elsewhere): the ordinary lines, timestamp first.
        for variable in [nil, "\(status.st_dev):\(status.st_ino &+ 1)"] as [String?] {
            let plain = ChildProcess(Self.framecast, arguments, environment: Self.environment(["JOURNAL_STREAM": variable]))
            try plain.run()
            try await eventually(20, "the serving line; stderr: \(plain.standardErrorText)") {
                guard plain.isRunning else { throw HTTPTestError.closed("framecast exited: \(plain.standardErrorText)") }
                return plain.standardErrorText.contains("serving ")
            }
            await plain.stop()
            let serving = try #require(plain.standardErrorLines.first { $0.contains("serving ") })
            #expect(serving.prefixMatch(of: Self.isoTimestamp) != nil, "JOURNAL_STREAM=\(variable ?? "unset"): \(serving)")
            #expect(!plain.standardErrorLines.contains { $0.hasPrefix("<") }, "\(plain.standardErrorLines)")
        }
    }

    nonisolated(unsafe) static let isoTimestamp = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}/

    // MARK: Bad values

    @Test(arguments: [
        // Octal from 000 to 777.
        ("0", 0), ("000", 0), ("600", 0), ("777", 0),
        ("-1", 2), ("1e300", 2), ("nan", 2), ("888", 2), ("", 2), ("7777", 2), ("0o600", 2), ("1000", 2),
    ])
    func unixMode(value: String, expected: Int32) async throws {
        let result = try await FramecastProcess.runToExit(["--check", "--pipeline", Self.small, "--unix-mode", value])
        #expect(result.status == expected, "--unix-mode '\(value)': \(result.error)")
        if expected != 0 { #expect(result.error.contains("--unix-mode"), "--unix-mode '\(value)': \(result.error)") }
    }

    @Test(arguments: [
        ("1", 0), ("604800", 0), ("2.5", 0),
        ("0", 2), ("-1", 2), ("1e-300", 2), ("1e300", 2), ("nan", 2), ("inf", 2), ("18446744073709551617", 2), ("", 2),
        ("604801", 2), ("0.5", 2),
    ])
    func exitWhenIdle(value: String, expected: Int32) async throws {
        let result = try await FramecastProcess.runToExit(["--check", "--pipeline", Self.small, "--exit-when-idle", value])
        #expect(result.status == expected, "--exit-when-idle '\(value)': \(result.error)")
        if expected != 0 { #expect(result.error.contains("--exit-when-idle"), "--exit-when-idle '\(value)': \(result.error)") }
    }
}

/// Runs `body`, then `cleanup` whether or not it threw.
private func finally<T>(_ cleanup: () async -> Void, _ body: () async throws -> T) async throws -> T {
    let result: Result<T, any Error>
    do { result = .success(try await body()) } catch { result = .failure(error) }
    await cleanup()
    return try result.get()
}

/// A loopback port the test listens on (and never accepts on), so nobody else can bind it.
private final class HeldPort {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard let port = bindToFreeLoopbackPort(fd), listen(fd, 1) == 0 else {
            close(fd)
            throw HTTPTestError.closed("holding a port")
        }
        self.fd = fd
        self.port = port
    }

    deinit { close(fd) }
}

import Foundation
import Testing

/// What an outside review of the service change broke, each fixed and kept fixed: an emptied
/// file, overlapping reloads, a removed stream stuck in its driver, renditions of the file, the
/// environment turning a flag off, the reload endpoint behind a proxy's socket, a wall subscribed
/// to a removed stream, listeners that cannot bind.
@Suite(.serialized) struct ReloadHardeningTests {
    static func names(_ server: FramecastProcess) async throws -> [String] {
        let (_, body) = try await server.server.get("/api/streams")
        let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return (json?["streams"] as? [[String: Any]])?.compactMap { $0["name"] as? String } ?? []
    }

    /// A configuration file caught empty (an editor or `>` truncating it before writing) must not
    /// replace every camera with the built-in test pattern.
    @Test func aReloadOfAnEmptiedFileKeepsTheStreams() async throws {
        let path = try ConfigurationFileTests.file(ReloadTests.configuration([("cam", ReloadTests.pattern("ball"))]))
        defer { ConfigurationFileTests.remove(path) }
        let server = try await FramecastProcess.serve(["--config", path])
        defer { server.terminate() }
        for emptied in ["", "# only a comment\n", "port: 8080\n"] {
            try emptied.write(toFile: path, atomically: true, encoding: .utf8)
            let (head, body) = try await server.server.get("/api/reload", method: "POST")
            #expect(head.status == 422, "\(emptied.debugDescription)")
            #expect(String(decoding: body, as: UTF8.self).contains("defines no stream"))
            #expect(try await Self.names(server) == ["cam"])
        }
    }

    /// FRAMECAST_ALWAYS_ON=false turns off the file's `always-on: true` (the environment sits
    /// between the file and the command line). Without it the same file starts the pipeline.
    @Test func anEnvironmentFalseOverridesTheFilesTrue() async throws {
        let path = try ConfigurationFileTests.file("always-on: true\n" + ReloadTests.configuration([("cam", ReloadTests.pattern("ball"))]))
        defer { ConfigurationFileTests.remove(path) }
        let on = try await FramecastProcess.serve(["--config", path])
        try await eventually(20, "always-on from the file") { try await ReloadTests.status(of: "cam", on)["state"] as? String == "playing" }
        on.terminate()
        let off = try await FramecastProcess.serve(["--config", path], environment: ["FRAMECAST_ALWAYS_ON": "false"])
        defer { off.terminate() }
        // always-on starts the pipeline before the server listens; this one never left idle.
        let status = try await ReloadTests.status(of: "cam", off)
        #expect(status["state"] as? String == "idle")
        #expect(status["framesPublished"] as? Int == 0)
    }

    /// Two reloads close together (SIGHUP from `systemctl reload` while a POST runs): the file's
    /// last content is what is served, never an older read, and no request is dropped.
    @Test func theLastEditWinsWhenReloadsOverlap() async throws {
        let path = try ConfigurationFileTests.file(ReloadTests.configuration([("start", ReloadTests.pattern("ball"))]))
        defer { ConfigurationFileTests.remove(path) }
        let server = try await FramecastProcess.serve(["--config", path])
        defer { server.terminate() }
        for trial in 0..<10 {
            try ReloadTests.configuration([("x\(trial)", ReloadTests.pattern("ball"))]).write(toFile: path, atomically: true, encoding: .utf8)
            async let post = server.server.get("/api/reload", method: "POST")
            try ReloadTests.configuration([("y\(trial)", ReloadTests.pattern("ball"))]).write(toFile: path, atomically: true, encoding: .utf8)
            kill(server.process.processIdentifier, SIGHUP)
            #expect(try await post.0.status == 200)
            try await eventually(10, "trial \(trial): the last edit served") { try await Self.names(server) == ["y\(trial)"] }
        }
        #expect(!server.standardErrorText.contains("already in progress"))
    }

    /// A stream's `renditions:` in the file are part of its definition: a reload that changes
    /// them reports the stream changed and serves the new names only.
    @Test func aReloadAppliesTheFilesNamedRenditions() async throws {
        let stream = "  cam:\n    pipeline: \"\(ReloadTests.pattern("ball"))\"\n"
        let path = try ConfigurationFileTests.file("streams:\n" + stream + "    renditions:\n      thumb: \"width=96\"\n")
        defer { ConfigurationFileTests.remove(path) }
        let server = try await FramecastProcess.serve(["--config", path])
        defer { server.terminate() }
        #expect(try await server.server.get("/snapshot/cam@thumb").0.status == 200)
        try ("streams:\n" + stream + "    renditions:\n      small: \"width=64\"\n").write(toFile: path, atomically: true, encoding: .utf8)
        let (head, body) = try await server.server.get("/api/reload", method: "POST")
        #expect(head.status == 200)
        let report = try JSONSerialization.jsonObject(with: Data(body)) as? [String: [String]]
        #expect(report?["changed"] == ["cam"])
        #expect(try await server.server.get("/snapshot/cam@small").0.status == 200)
        #expect(try await server.server.get("/snapshot/cam@thumb").0.status == 404)
    }

    /// A removed stream whose pipeline is stuck in a call (here filesrc opening a FIFO nobody
    /// writes, as a hung camera driver would) ends its viewers at once and holds neither the
    /// reload, nor later reloads, nor the exit.
    @Test func aStreamStuckInItsDriverHoldsNoReloadAndNoExit() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("framecast-stuck-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let fifo = folder.appendingPathComponent("camera").path
        try #require(mkfifo(fifo, 0o600) == 0)
        let stuck = "filesrc location=\(fifo) ! jpegparse ! appsink name=sink"
        let path = try ConfigurationFileTests.file(ReloadTests.configuration([("stuck", stuck), ("fine", ReloadTests.pattern("ball"))]))
        defer { ConfigurationFileTests.remove(path) }
        let server = try await FramecastProcess.serve(["--config", path])
        defer { server.terminate() }
        try await withDeadline(30, "a stuck stream removed") {
            try await withThrowingTaskGroup(of: Void.self) { viewers in
                viewers.addTask {
                    // Its viewer sees STARTING, then the closing boundary when the reload removes it.
                    try await server.server.stream(path: "/stream/stuck") { reader, parts in
                        while try await parts.next(&reader) != nil {}
                        #expect(parts.closed)
                    }
                }
                try await eventually(10, "the stream's pipeline starting") { try await ReloadTests.status(of: "stuck", server)["state"] as? String == "starting" }
                try ReloadTests.configuration([("fine", ReloadTests.pattern("ball"))]).write(toFile: path, atomically: true, encoding: .utf8)
                #expect(try await server.server.get("/api/reload", method: "POST").0.status == 200)
                try await viewers.waitForAll()
            }
            try ReloadTests.configuration([("fine", ReloadTests.pattern("ball")), ("more", ReloadTests.pattern("snow"))]).write(
                toFile: path, atomically: true, encoding: .utf8)
            #expect(try await server.server.get("/api/reload", method: "POST").0.status == 200)
            #expect(try await Self.names(server) == ["fine", "more"])
        }
        // The removed pipeline is still stuck in open(2): the exit does not wait for it.
        server.process.terminate()
        try await server.waitForExit(timeout: 5)
        #expect(server.process.terminationStatus == 0)

        // Nor for a stuck stream still served (it used to crash: the service group's limit on
        // cancellation).
        let plain = try await FramecastProcess.serve(["--pipeline", stuck])
        defer { plain.terminate() }
        try await withDeadline(20, "a viewer of a stuck stream") {
            try await plain.server.stream { reader, parts in
                try await eventually(10, "the pipeline starting") { try await plain.server.state() == "starting" }
                plain.process.terminate()
                while try await parts.next(&reader) != nil {}
            }
        }
        try await plain.waitForExit(timeout: 5)
        #expect(plain.process.terminationStatus == 0)
        #expect(plain.standardErrorText.contains("exiting without waiting for it"))
    }

    /// Behind a proxy every viewer arrives through the unix socket: without credentials, a
    /// reload is taken over loopback TCP only (SIGHUP still works).
    @Test func aReloadThroughTheUnixSocketNeedsCredentials() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("fc-u-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let socketPath = folder.appendingPathComponent("s.sock").path
        let server = try await FramecastProcess.serve(["--host", "127.0.0.1", "--unix", socketPath, "--pipeline", ReloadTests.pattern("ball")])
        defer { server.terminate() }
        let head = try await withUnixHTTPRequest(socketPath: socketPath, path: "/api/reload", method: "POST") { reader in reader.head }
        #expect(head.status == 403)
        #expect(try await server.server.get("/api/reload", method: "POST").0.status == 200)
        for method in ["PUT", "DELETE", "OPTIONS"] {
            #expect(try await server.server.get("/api/reload", method: method).0.status == 405, "\(method)")
        }
        // A second server may not take the first one's live socket over.
        let second = try await FramecastProcess.runToExit(["--unix", socketPath, "--pipeline", ReloadTests.pattern("ball")])
        #expect(second.status == 2)
        #expect(second.error.contains("another server is listening"))
        #expect(try await unixGet(socketPath: socketPath, "/healthz").0.status == 200)
    }

    /// A listener that cannot bind ends the process with a failure status, so that systemd's
    /// Restart=on-failure and scripts see it.
    @Test func aListenerThatCannotBindIsAFailure() async throws {
        let holder = try await FramecastProcess.serve(["--pipeline", ReloadTests.pattern("ball")])
        defer { holder.terminate() }
        let taken = try await FramecastProcess.runToExit(["--port", String(holder.port), "--pipeline", ReloadTests.pattern("ball")])
        #expect(taken.status == 1, "\(taken.error)")
        let noFolder = try await FramecastProcess.runToExit(["--unix", "/nonexistent-folder/s.sock", "--pipeline", ReloadTests.pattern("ball")])
        #expect(noFolder.status == 1, "\(noFolder.error)")
    }

    /// A wall subscribed to a stream a reload removes is told (`{"ended": [...]}`), and gives its
    /// place under --max-clients back when it wants nothing that exists any more.
    @Test func aWallSubscribedToARemovedStreamIsToldAndFreesItsPlace() async throws {
        let path = try ConfigurationFileTests.file(
            "max-clients: 1\n" + ReloadTests.configuration([("one", ReloadTests.pattern("ball")), ("two", ReloadTests.pattern("snow"))]))
        defer { ConfigurationFileTests.remove(path) }
        let server = try await FramecastProcess.serve(["--config", path])
        defer { server.terminate() }
        try await withDeadline(30, "a wall through a reload") {
            try await withHTTPRequest(port: server.port, path: "/ws", headers: WebSocketTestClient.upgradeHeaders) { reader in
                try await WebSocketTestClient.sendText(#"{"streams": ["one"]}"#, on: reader)
                while case .text = try await WebSocketTestClient.next(&reader) {}  // up to the first frame
                #expect(try await server.server.get("/snapshot/two").0.status == 200)
                #expect(try await server.server.status()["serverClients"] as? Int == 1)
                try ReloadTests.configuration([("two", ReloadTests.pattern("snow"))]).write(toFile: path, atomically: true, encoding: .utf8)
                #expect(try await server.server.get("/api/reload", method: "POST").0.status == 200)
                var ended: String?
                while ended == nil {
                    if case .text(let text) = try await WebSocketTestClient.next(&reader), text.contains("\"ended\"") { ended = text }
                }
                #expect(ended?.contains("\"one\"") == true)
                try await eventually(10, "the wall's place given back") { try await server.server.status()["serverClients"] as? Int == 0 }
                try await server.server.stream(path: "/stream/two") { reader, parts in
                    _ = try #require(try await parts.next(&reader))
                }
            }
        }
    }
}

import Foundation
import Testing

/// A hostile review of the service change (reload, environment layering): each test fails on
/// the reviewed commit.
@Suite(.serialized) struct ReviewServiceTests {
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
        try "".write(toFile: path, atomically: true, encoding: .utf8)
        let (head, _) = try await server.server.get("/api/reload", method: "POST")
        #expect(head.status == 422)
        #expect(try await Self.names(server) == ["cam"])
    }

    /// README: environment variables sit between the file and the command line, so
    /// FRAMECAST_ALWAYS_ON=false turns off the file's `always-on: true`.
    @Test func anEnvironmentFalseOverridesTheFilesTrue() async throws {
        let path = try ConfigurationFileTests.file("always-on: true\n" + ReloadTests.configuration([("cam", ReloadTests.pattern("ball"))]))
        defer { ConfigurationFileTests.remove(path) }
        let server = try await FramecastProcess.serve(["--config", path], environment: ["FRAMECAST_ALWAYS_ON": "false"])
        defer { server.terminate() }
        try await Task.sleep(for: .seconds(2))
        #expect(try await ReloadTests.status(of: "cam", server)["state"] as? String == "idle")
    }

    /// Two reloads close together (SIGHUP from `systemctl reload` while a POST runs): the file's
    /// last content must be what is served, never an older read and never a dropped request.
    @Test func theLastEditWinsWhenReloadsOverlap() async throws {
        let path = try ConfigurationFileTests.file(ReloadTests.configuration([("start", ReloadTests.pattern("ball"))]))
        defer { ConfigurationFileTests.remove(path) }
        let server = try await FramecastProcess.serve(["--config", path])
        defer { server.terminate() }
        var lost: [Int] = []
        for trial in 0..<20 {
            try ReloadTests.configuration([("x\(trial)", ReloadTests.pattern("ball"))]).write(toFile: path, atomically: true, encoding: .utf8)
            async let post = server.server.get("/api/reload", method: "POST")
            try await Task.sleep(for: .milliseconds(20))
            try ReloadTests.configuration([("y\(trial)", ReloadTests.pattern("ball"))]).write(toFile: path, atomically: true, encoding: .utf8)
            kill(server.process.processIdentifier, SIGHUP)
            _ = try await post
            try await Task.sleep(for: .milliseconds(500))
            if try await Self.names(server) != ["y\(trial)"] { lost.append(trial) }
        }
        #expect(lost.isEmpty, "the last edit was not served after trials \(lost)")
    }

    /// A stream's `renditions:` in the file are part of its definition: a reload that changes
    /// them reports the stream changed (and serves the new names), as ReloadReport documents.
    @Test func aReloadAppliesTheFilesNamedRenditions() async throws {
        let stream = "  cam:\n    pipeline: \"\(ReloadTests.pattern("ball"))\"\n"
        let path = try ConfigurationFileTests.file("streams:\n" + stream + "    renditions:\n      thumb: \"width=96\"\n")
        defer { ConfigurationFileTests.remove(path) }
        let server = try await FramecastProcess.serve(["--config", path])
        defer { server.terminate() }
        try ("streams:\n" + stream + "    renditions:\n      small: \"width=64\"\n").write(toFile: path, atomically: true, encoding: .utf8)
        let (head, body) = try await server.server.get("/api/reload", method: "POST")
        #expect(head.status == 200)
        let report = try JSONSerialization.jsonObject(with: Data(body)) as? [String: [String]]
        #expect(report?["changed"] == ["cam"])
    }
}

import Foundation
import Testing

/// `--config FILE` and `framecast check --config FILE`, run as the executable: keys of every kind,
/// streams from pipelines and files, flags over the file, and errors that name file, line and key.
@Suite(.serialized) struct ConfigurationFileTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Writes `text` to a fresh temporary folder's framecast.yaml.
    static func file(_ text: String) throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("framecast-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let path = folder.appendingPathComponent("framecast.yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func remove(_ path: String) {
        try? FileManager.default.removeItem(atPath: URL(fileURLWithPath: path).deletingLastPathComponent().path)
    }

    @Test func everyKindOfKeyIsReadAndFlagsOverrideTheFile() async throws {
        let testPipeline = Self.repository.appendingPathComponent("pipelines/test.pipeline").path
        let path = try Self.file(
            """
            # A comment, then each kind of key.
            port: 1                      # replaced by the test's --port
            always-on: true              # a flag
            no-sendfile: false           # a flag left off
            max-clients: 7               # replaced by --max-clients 9 below
            max-renditions: 3
            allow-host: [cam.local, "example.org"]
            idle-timeout: 2.5
            streams:
              plain:
                pipeline: "\(TestPipelines.pattern(width: 160, height: 120, fps: "10/1"))"
              fromfile:
                file: \(testPipeline)
                set: {WIDTH: 200, HEIGHT: 112, FPS: 10}
                renditions: {thumb: "width=96"}
            """)
        defer { Self.remove(path) }
        let server = try await FramecastProcess.serve(["--config", path, "--max-clients", "9"])
        defer { server.terminate() }
        let (head, body) = try await server.server.get("/api/streams")
        #expect(head.status == 200)
        let json = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
        #expect(json["maxClients"] as? Int == 9, "the flag wins over the file")
        let streams = try #require(json["streams"] as? [[String: Any]])
        #expect(streams.compactMap { $0["name"] as? String } == ["fromfile", "plain"])
        let fromFile = try #require(streams.first { $0["name"] as? String == "fromfile" })
        #expect((fromFile["pipeline"] as? String)?.contains("width=200,height=112") == true, "set: reached the file's variables")
        // always-on: both pipelines run with nobody watching.
        try await eventually(20, "always-on streams playing with no client") {
            let (_, body) = try await server.server.get("/api/streams")
            let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
            let states = (json?["streams"] as? [[String: Any]])?.compactMap { $0["state"] as? String }
            return states == ["playing", "playing"]
        }
        // The named rendition the file gave.
        let size = try await withDeadline(20, "a frame of fromfile@thumb") {
            try await server.server.stream(path: "/stream/fromfile@thumb") { reader, parts in
                while let part = try await parts.next(&reader) {
                    if !part.isPlaceholder, let size = jpegDimensions(part.body) { return size }
                }
                return (width: 0, height: 0)
            }
        }
        #expect(size.width == 96)
    }

    /// Every key of README's reference (every flag of `serve`), alone in a file with a value it
    /// takes, is accepted by `check --config`. A new flag without a sample here fails the test:
    /// whoever adds a flag sees it through the file too.
    @Test func everyKeyOfTheReferenceIsAcceptedInAFile() async throws {
        let reference = try await FramecastProcess.runToExit(["configuration-reference"])
        let rows = reference.output.split(separator: "\n").dropFirst(2).map { row in
            row.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        }
        let pattern = TestPipelines.pattern(width: 64, height: 48, fps: "10/1")
        let samples: [String: String] = [
            "pipeline": "\"\(pattern)\"",
            "pipeline-file": Self.repository.appendingPathComponent("pipelines/test.pipeline").path,
            "pipelines": Self.repository.appendingPathComponent("pipelines").path,
            "stream": "[\"cam=\(pattern)\"]",
            "set": "[\"WIDTH=320\"]",
            "host": "127.0.0.1",
            "unix": "/run/framecast/framecast.sock",
            "exit-when-idle": "60",
            "rendition": "[\"thumb=width=96,quality=50\"]",
            "auth": "\"viewer:secret\"",
            "htpasswd": "/etc/framecast/htpasswd",
            "link-key-file": "/var/lib/framecast/link.key",
            "allow-origin": "https://example.org",
            "allow-host": "[cam.local, example.org]",
            "web-root": Self.repository.appendingPathComponent("Web").path,
            "tls-cert": "/etc/framecast/cert.pem",
            "tls-key": "/etc/framecast/key.pem",
            "redirect-http": "8081",
        ]
        #expect(rows.count > 20)
        // Read from a running origin at start (RelayTests covers it, from a file too).
        let needsAnOrigin: Set = ["relay-all"]
        for row in rows {
            let key = row[1].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            if needsAnOrigin.contains(key) { continue }
            let value = row[2] == "true / false" ? "true" : samples[key] ?? row[3].trimmingCharacters(in: CharacterSet(charactersIn: "`"))
            #expect(!value.isEmpty, "no sample value for the key `\(key)`: add one to this test")
            guard !value.isEmpty else { continue }
            let path = try Self.file("\(key): \(value)\n")
            defer { Self.remove(path) }
            let result = try await FramecastProcess.runToExit(["check", "--config", path])
            #expect(result.status == 0, "\(key): \(value): \(result.error)", sourceLocation: SourceLocation(fileID: #fileID, filePath: #filePath, line: #line, column: 1))
        }
    }

    /// Each broken file: the line reported and what the message names.
    @Test(arguments: [
        ("port: 8080\nbogus: 1\n", 2, "unknown key `bogus`"),
        ("port: [1, 2]\n", 1, "`port` takes one value, not a list"),
        ("port: {a: 1}\n", 1, "not a mapping"),
        ("always-on: maybe\n", 1, "true or false"),
        ("port: 0x\n", 1, "--port"),
        ("port: -1\n", 1, "--port"),
        ("port: 1e300\n", 1, "--port"),
        ("port: nan\n", 1, "--port"),
        ("port: \"\"\n", 1, "--port"),
        ("port: 18446744073709551617\n", 1, "--port"),
        ("idle-timeout: inf\n", 1, "--idle-timeout"),
        ("frame-timeout: 1e-300\n", 1, "--frame-timeout"),
        ("exit-when-idle: 0\n", 1, "--exit-when-idle"),
        ("unix-mode: 888\n", 1, "--unix-mode"),
        ("log-level: loud\n", 1, "--log-level"),
        ("port: 1\nport: 2\n", 2, "not valid YAML: Parser: expected all keys to be unique"),
        ("check: true\n", 1, "no meaning in a configuration file"),
        ("streams:\n  a:\n    pipeline: x\n    file: y\n", 4, "not both"),
        ("streams:\n  a:\n    set: {W: 1}\n", 2, "needs `pipeline:` or `file:`"),
        ("streams:\n  a:\n    file: /nonexistent.pipeline\n", 3, "no file /nonexistent.pipeline"),
        ("streams:\n  a:\n    pipeline: p\n    colour: red\n", 4, "unknown key `colour`"),
        ("streams: [a, b]\n", 1, "must map stream names"),
        ("port: 8080\n  bad indent: [\n", 2, "not valid YAML"),
        ("- a list\n", 1, "must be a mapping"),
    ])
    func aBrokenFileIsAStartupErrorNamingFileLineAndKey(yaml: String, line: Int, says: String) async throws {
        let path = try Self.file(yaml)
        defer { Self.remove(path) }
        for arguments in [["check", "--config", path], ["--config", path, "--port", "0"]] {
            let result = try await FramecastProcess.runToExit(arguments)
            #expect(result.status == 2, "\(arguments): \(result.error)")
            #expect(result.error.contains(path), "\(result.error)")
            if !says.contains("YAML") {
                #expect(result.error.contains("line \(line)"), "\(result.error)")
            }
            #expect(result.error.contains(says), "\(result.error)")
        }
    }

    /// `FRAMECAST_*` variables sit between the file and the command line.
    @Test func theEnvironmentOverridesTheFileAndFlagsOverrideTheEnvironment() async throws {
        let path = try Self.file("max-clients: 7\nmax-renditions: 2\n")
        defer { Self.remove(path) }
        let server = try await FramecastProcess.serve(
            ["--config", path, "--max-renditions", "0"],
            environment: ["FRAMECAST_MAX_CLIENTS": "8", "FRAMECAST_MAX_RENDITIONS": "5", "FRAMECAST_ALWAYS_ON": "true"])
        defer { server.terminate() }
        let json = try await server.server.status()
        #expect(json["maxClients"] as? Int == 8, "the environment over the file")
        try await eventually(20, "FRAMECAST_ALWAYS_ON=true runs the pipeline with no client") { try await server.server.state() == "playing" }
        // --max-renditions 0 (the flag, over the environment's 5 and the file's 2) serves none.
        let refused = try await server.server.get("/snapshot/test?width=64")
        #expect(refused.0.status == 400)
        #expect(String(decoding: refused.1, as: UTF8.self).contains("--max-renditions"))
    }

    @Test(arguments: [
        ("FRAMECAST_PORT", "-1", "--port"),
        ("FRAMECAST_PORT", "1e300", "--port"),
        ("FRAMECAST_PORT", "", "--port"),
        ("FRAMECAST_IDLE_TIMEOUT", "nan", "--idle-timeout"),
        ("FRAMECAST_CLIENT_TIMEOUT", "inf", "--client-timeout"),
        ("FRAMECAST_MAX_CLIENTS", "18446744073709551617", "--max-clients"),
        ("FRAMECAST_ALWAYS_ON", "maybe", "true or false"),
        ("FRAMECAST_ALLOW_HOST", "cam.local", "repeats"),
    ])
    func aBadEnvironmentVariableIsAStartupErrorNamingIt(variable: String, value: String, says: String) async throws {
        let result = try await FramecastProcess.runToExit(["--port", "0", "--check"], environment: [variable: value])
        #expect(result.status == 2)
        #expect(result.error.contains("environment variable \(variable)"), "\(result.error)")
        #expect(result.error.contains(says), "\(result.error)")
    }

    @Test func checkValidatesAGoodFileAndEveryStreamInIt() async throws {
        let path = try Self.file(
            """
            streams:
              one:
                pipeline: "\(TestPipelines.pattern(width: 64, height: 48, fps: "10/1"))"
              two:
                pipeline: "videotestsrc ! nosuchencoder ! appsink name=sink"
            """)
        defer { Self.remove(path) }
        let result = try await FramecastProcess.runToExit(["check", "--config", path])
        #expect(result.status == 2)
        #expect(result.output.contains("one") && result.output.contains("64x48"), "\(result.output)")
        #expect(result.output.contains("nosuchencoder"), "\(result.output)")

        try "streams:\n  one:\n    pipeline: \"\(TestPipelines.pattern(width: 64, height: 48, fps: "10/1"))\"\n".write(toFile: path, atomically: true, encoding: .utf8)
        let good = try await FramecastProcess.runToExit(["check", "--config", path])
        #expect(good.status == 0, "\(good.error)")
        #expect(good.output.contains("\(path): OK"))
    }

    /// The example `make install` ships is a configuration that works.
    @Test func theShippedExampleConfigurationChecksOK() async throws {
        let example = try String(contentsOf: Self.repository.appendingPathComponent("packaging/framecast.yaml.example"), encoding: .utf8)
        let path = try Self.file(example.replacingOccurrences(of: "@DATADIR@", with: Self.repository.path))
        defer { Self.remove(path) }
        let result = try await FramecastProcess.runToExit(["check", "--config", path])
        #expect(result.status == 0, "\(result.error)")
        #expect(result.output.contains("\(path): OK"))
    }

    /// README's table of keys is what `framecast configuration-reference` prints from the flags'
    /// own definitions: the two cannot drift apart.
    @Test func readmeHoldsTheConfigurationReferenceAsGenerated() async throws {
        let result = try await FramecastProcess.runToExit(["configuration-reference"])
        #expect(result.status == 0)
        let table = result.output.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(table.contains("| `port` |"))
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains(table), "README's configuration reference is stale: paste `framecast configuration-reference`")
    }
}

import Foundation
import Testing

/// The `framecast` executable: start-up errors, `--check`, SIGTERM, and a stalled reader, run as
/// a child process so its exit status and resident memory are its own.
@Suite(.serialized) struct ProcessTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test(arguments: [
        ("videotestsrc ! ! appsink name=sink", "does not parse"),
        ("videotestsrc ! nosuchencoder ! appsink name=sink", "`nosuchencoder`"),
        ("videotestsrc ! jpegenc ! fakesink", "no element named `sink`"),
        ("videotestsrc ! video/x-raw,width=64,height=48 ! appsink name=sink", "not image/jpeg"),
    ])
    func startupErrorExitsWithStatus2AndSaysWhatToDo(pipeline: String, says: String) async throws {
        for mode in [["--check"], []] {
            let result = try await FramecastProcess.runToExit(mode + ["--pipeline", pipeline, "--port", "0"])
            #expect(result.status == 2, "\(mode) \(pipeline)")
            #expect(result.error.contains(says), "stderr: \(result.error)")
            #expect(result.error.contains("appsink name=sink") || result.error.contains("gst-"), "no fix named: \(result.error)")
        }
    }

    @Test func checkAcceptsTheShippedPipelinesAndTheBuiltInPattern() async throws {
        let builtIn = try await FramecastProcess.runToExit(["--check"])
        #expect(builtIn.status == 0)
        #expect(builtIn.output.contains("videotestsrc"))
        for file in ["test", "camera", "camera-mjpeg"] {
            let path = Self.repository.appendingPathComponent("pipelines/\(file).pipeline").path
            let result = try await FramecastProcess.runToExit(["--check", "--pipeline-file", path])
            #expect(result.status == 0, "\(file): \(result.error)")
        }
        let missing = try await FramecastProcess.runToExit(["--check", "--pipeline-file", "/nonexistent.pipeline"])
        #expect(missing.status == 2)
        #expect(missing.error.contains("/nonexistent.pipeline"))
    }

    @Test func aClientThatStopsReadingSlowsNobodyAndHoldsNoMemory() async throws {
        // Noise compresses badly: ~100 KB frames at 30 fps make a stalled client's backlog large
        // (about 3 MB/s) if the server queued frames for it.
        let heavy = "videotestsrc is-live=true pattern=snow ! video/x-raw,width=640,height=360,framerate=30/1 ! jpegenc quality=90 ! appsink name=sink"
        let server = try await FramecastProcess.serve(["--pipeline", heavy])
        defer { server.terminate() }
        let stalled = try (0..<3).map { _ in try StalledClient(port: server.port, path: "/stream") }
        // Let the stalled sockets fill, then measure a window.
        try await withDeadline(60, "fast clients beside stalled ones") {
            let warmup = try await server.server.stream { reader, parts in
                for _ in 0..<30 { _ = try #require(try await parts.next(&reader)) }
                return true
            }
            #expect(warmup)
            let rssBefore = server.residentBytes
            let rates = try await withThrowingTaskGroup(of: Double.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        try await server.server.stream { reader, parts in
                            let first = try #require(try await parts.next(&reader))
                            var last = first
                            for _ in 0..<120 { last = try #require(try await parts.next(&reader)) }
                            return 120 / (last.timestamp! - first.timestamp!)
                        }
                    }
                }
                var rates: [Double] = []
                for try await rate in group { rates.append(rate) }
                return rates
            }
            let growth = server.residentBytes - rssBefore
            let sourceRate = try await server.server.status()["fps"] as? Double ?? 30
            for rate in rates {
                #expect(rate >= 0.8 * 30, "a fast client got \(rate) fps beside stalled ones (source \(sourceRate))")
            }
            // 4 s of the stalled clients' frames would be ~36 MB if they were queued.
            #expect(growth < 12 << 20, "resident memory grew by \(growth >> 20) MB")
            #expect(try await server.server.status()["clients"] as? Int == 3)
        }
        _ = stalled
    }

    /// Memory files are per frame, not per client: twenty viewers share each frame's file (and
    /// `--no-sendfile` makes none).
    @Test(arguments: [true, false])
    func memoryFilesArePerFrameNotPerClient(sendfile: Bool) async throws {
        let server = try await FramecastProcess.serve(
            ["--pipeline", TestPipelines.pattern(width: 320, height: 240), "--always-on"] + (sendfile ? [] : ["--no-sendfile"]))
        defer { server.terminate() }
        let pid = server.process.processIdentifier
        @Sendable func memoryFiles() -> Int {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
            return entries.filter { entry in
                ((try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(pid)/fd/\(entry)")) ?? "").contains("memfd:framecast-frame")
            }.count
        }
        try await withDeadline(60, "twenty viewers") {
            let most = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<20 {
                    group.addTask {
                        try await server.server.stream { reader, parts in
                            for _ in 0..<45 { _ = try #require(try await parts.next(&reader)) }
                            return 0
                        }
                    }
                }
                group.addTask {
                    var most = 0
                    for _ in 0..<20 {
                        most = max(most, memoryFiles())
                        try await Task.sleep(for: .milliseconds(50))
                    }
                    return most
                }
                var most = 0
                for try await value in group { most = max(most, value) }
                return most
            }
            if sendfile {
                // The newest frame's file, one copy per event loop, and a few frames in flight.
                #expect(most >= 1 && most <= 12, "\(most) memory files open for 20 viewers")
            } else {
                #expect(most == 0)
            }
        }
    }

    /// A temporary folder of pipeline files, removed afterwards.
    static func withPipelineFolder<T>(_ files: [String: String], _ body: (String) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("framecast-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, text) in files {
            try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8)
        }
        return try await body(folder.path)
    }

    static let small = "# a small test pattern\nvideotestsrc is-live=true\n! video/x-raw,width=${WIDTH:-160},height=${HEIGHT:-120},framerate=30/1\n! jpegenc quality=${QUALITY:-80} ! appsink name=sink\n"

    @Test func pipelinesFolderServesEachFileAsANamedStreamWithVariables() async throws {
        try await Self.withPipelineFolder(["front-door.pipeline": Self.small, "yard.pipeline": Self.small, "notes.txt": "not a pipeline"]) { folder in
            let server = try await FramecastProcess.serve([
                "--pipelines", folder, "--set", "WIDTH=320", "--set", "yard.WIDTH=640", "--set", "yard.HEIGHT=360",
                "--stream", "extra=videotestsrc ! video/x-raw,width=${WIDTH},height=240 ! jpegenc ! appsink name=sink",
            ])
            defer { server.terminate() }
            for (name, width) in [("front-door", 320), ("yard", 640), ("extra", 320)] {
                let (head, body) = try await server.server.get("/snapshot/\(name)")
                #expect(head.status == 200, "\(name)")
                #expect(jpegDimensions(body)?.width == width, "\(name)")
            }
            #expect(try await server.server.get("/snapshot/notes").0.status == 404)
        }
    }

    @Test(arguments: [
        (["Front Door.pipeline"], [String](), "stream name 'Front Door' is not allowed"),
        (["cam.pipeline"], ["--stream", "cam=videotestsrc ! jpegenc ! appsink name=sink"], "two streams are named 'cam'"),
        (["cam.pipeline"], ["--stream", "Bad/Name=videotestsrc ! jpegenc ! appsink name=sink"], "stream name 'Bad/Name' is not allowed"),
        (["cam.pipeline"], ["--set", "WIDTH=1 ! filesink location=/tmp/pwned"], "would change the pipeline's structure"),
        (["cam.pipeline"], ["--stream", "x=videotestsrc ! video/x-raw,width=${UNSET_VARIABLE_X} ! jpegenc ! appsink name=sink"], "UNSET_VARIABLE_X"),
    ])
    func badStreamConfigurationIsAStartupError(files: [String], arguments: [String], says: String) async throws {
        try await Self.withPipelineFolder(Dictionary(uniqueKeysWithValues: files.map { ($0, Self.small) })) { folder in
            let result = try await FramecastProcess.runToExit(["--pipelines", folder, "--port", "0"] + arguments)
            #expect(result.status == 2)
            #expect(result.error.contains(says), "stderr: \(result.error)")
        }
    }

    @Test func checkCommandPrintsOneLinePerStream() async throws {
        let broken = "videotestsrc ! video/x-raw,width=${WIDTH:-160},height=120 ! appsink name=sink\n"
        let camera = "v4l2src device=/dev/framecast-no-camera ! image/jpeg ! appsink name=sink\n"
        let missing = "videotestsrc ! video/x-raw,width=${NOPE},height=120 ! jpegenc ! appsink name=sink\n"
        try await Self.withPipelineFolder(["good.pipeline": Self.small, "raw.pipeline": broken, "cam.pipeline": camera, "vars.pipeline": missing]) { folder in
            let result = try await FramecastProcess.runToExit(["check", folder, "--set", "good.WIDTH=320", "--set", "good.HEIGHT=240"])
            #expect(result.status == 2, "a failing pipeline must fail the check")
            let lines = result.output.split(separator: "\n").map(String.init)
            #expect(lines.count == 4, "\(result.output)")
            let byName = Dictionary(uniqueKeysWithValues: lines.map { (String($0.split(separator: " ")[0]), $0) })
            #expect(byName["good"]?.contains("OK") == true && byName["good"]?.contains("320x240") == true && byName["good"]?.contains("KB") == true, "\(byName["good"] ?? "")")
            #expect(byName["cam"]?.contains("OK") == true && byName["cam"]?.contains("not run") == true)
            #expect(byName["raw"]?.contains("ERROR") == true && byName["raw"]?.contains("image/jpeg") == true)
            #expect(byName["vars"]?.contains("ERROR") == true && byName["vars"]?.contains("NOPE") == true && byName["vars"]?.contains("line 1") == true)
        }
        let shipped = try await FramecastProcess.runToExit(["check", Self.repository.appendingPathComponent("pipelines").path])
        #expect(shipped.status == 0, "\(shipped.output)\(shipped.error)")
        #expect(shipped.output.contains("1280x720"))
    }
}

import Foundation
import Synchronization
import Testing

/// Hot reload of the configuration file by SIGHUP and `POST /api/reload`, on the executable with
/// real viewers: added streams appear, removed ones end their viewers with a closing boundary,
/// a changed pipeline restarts that stream alone with its viewers still connected, unchanged
/// streams go on without a gap, and a broken file changes nothing.
@Suite(.serialized) struct ReloadTests {
    /// 5 fps: one frame interval is 200 ms.
    static let interval = 0.2

    static func pattern(_ name: String, width: Int = 160, height: Int = 120) -> String {
        "videotestsrc is-live=true pattern=\(name) ! video/x-raw,width=\(width),height=\(height),framerate=5/1 ! jpegenc ! appsink name=sink"
    }

    static func configuration(_ streams: [(String, String)]) -> String {
        "idle-timeout: 30\nstreams:\n" + streams.map { "  \($0.0):\n    pipeline: \"\($0.1)\"\n" }.joined()
    }

    @Test func sighupAddsRemovesAndChangesStreamsAndLeavesTheRestAlone() async throws {
        let path = try ConfigurationFileTests.file(
            Self.configuration([("keep", Self.pattern("ball")), ("change", Self.pattern("snow")), ("gone", Self.pattern("smpte"))]))
        defer { ConfigurationFileTests.remove(path) }
        let server = try await FramecastProcess.serve(["--config", path])
        defer { server.terminate() }
        let reloaded = ReloadFlag()

        try await withDeadline(60, "viewers through a reload") {
            try await withThrowingTaskGroup(of: Void.self) { viewers in
                // Unchanged: every frame keeps coming, one interval apart, no placeholder.
                viewers.addTask {
                    try await server.server.stream(path: "/stream/keep") { reader, parts in
                        var previous: Double?
                        var afterReload = 0
                        while afterReload < 15 {
                            let part = try #require(try await parts.next(&reader))
                            #expect(!part.isPlaceholder, "an unchanged stream showed a placeholder")
                            let timestamp = try #require(part.timestamp)
                            if let previous {
                                // A lost frame would make a gap of two intervals.
                                #expect(timestamp - previous < Self.interval * 1.5, "a gap of \(timestamp - previous) s")
                            }
                            previous = timestamp
                            if reloaded.isSet { afterReload += 1 }
                        }
                    }
                }
                // Changed: the same connection sees NO SIGNAL, then the new pipeline's size.
                viewers.addTask {
                    try await server.server.stream(path: "/stream/change") { reader, parts in
                        var sawPlaceholder = false
                        while true {
                            let part = try #require(try await parts.next(&reader), "the changed stream's viewer was disconnected")
                            if part.isPlaceholder, reloaded.isSet { sawPlaceholder = true }
                            if let size = jpegDimensions(part.body), size.width == 240, !part.isPlaceholder { break }
                        }
                        #expect(sawPlaceholder)
                    }
                }
                // Removed: the stream ends with its closing boundary.
                viewers.addTask {
                    try await server.server.stream(path: "/stream/gone") { reader, parts in
                        while try await parts.next(&reader) != nil {}
                        #expect(parts.closed, "no closing boundary")
                        #expect(reloaded.isSet)
                    }
                }
                try await eventually(20, "three viewers") {
                    let (_, body) = try await server.server.get("/api/streams")
                    let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
                    return (json?["streams"] as? [[String: Any]])?.allSatisfy { ($0["state"] as? String) == "playing" } == true
                }
                let keepBefore = try await Self.status(of: "keep", server)
                try Self.configuration([
                    ("keep", Self.pattern("ball")), ("change", Self.pattern("snow", width: 240, height: 180)), ("added", Self.pattern("pinwheel")),
                ]).write(toFile: path, atomically: true, encoding: .utf8)
                reloaded.set()
                kill(server.process.processIdentifier, SIGHUP)
                try await viewers.waitForAll()
                let keepAfter = try await Self.status(of: "keep", server)
                #expect(keepAfter["restarts"] as? Int == keepBefore["restarts"] as? Int)
                #expect((keepAfter["uptimeSeconds"] as? Double ?? 0) > (keepBefore["uptimeSeconds"] as? Double ?? 0), "the unchanged stream was made anew")
            }
        }
        let (_, body) = try await server.server.get("/api/streams")
        let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        #expect((json?["streams"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["added", "change", "keep"])
        #expect(server.standardErrorText.contains("reloaded (SIGHUP)"))
    }

    @Test func aBrokenConfigurationIsRefusedWholeAndTheRunningOneKept() async throws {
        let path = try ConfigurationFileTests.file(Self.configuration([("one", Self.pattern("ball")), ("two", Self.pattern("snow"))]))
        defer { ConfigurationFileTests.remove(path) }
        let server = try await FramecastProcess.serve(["--config", path])
        defer { server.terminate() }
        // One stream fine, the other broken: neither change is made.
        for broken in [
            Self.configuration([("one", Self.pattern("ball")), ("two", "videotestsrc ! nosuchelement ! appsink name=sink"), ("three", Self.pattern("smpte"))]),
            "port: [1, 2]\n",
            "streams: {}\n  : :\n",
        ] {
            try broken.write(toFile: path, atomically: true, encoding: .utf8)
            let (head, body) = try await server.server.get("/api/reload", method: "POST")
            #expect(head.status == 422, "\(broken)")
            #expect(String(decoding: body, as: UTF8.self).contains("the running configuration is kept"))
            let (_, streams) = try await server.server.get("/api/streams")
            let json = try JSONSerialization.jsonObject(with: Data(streams)) as? [String: Any]
            #expect((json?["streams"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["one", "two"])
        }
        kill(server.process.processIdentifier, SIGHUP)
        try await eventually(10, "the SIGHUP refusal logged") { server.standardErrorText.contains("reload (SIGHUP) refused") }
        #expect(server.process.isRunning)

        // A page on another site cannot make a browser reload the server; GET is not a reload.
        let (foreign, _) = try await server.server.get("/api/reload", method: "POST", headers: ["Origin": "http://evil.example"])
        #expect(foreign.status == 403)
        let (get, _) = try await server.server.get("/api/reload")
        #expect(get.status == 405)

        // Settings other than streams are kept until the next start, and the log says which.
        try ("max-clients: 9\n" + Self.configuration([("one", Self.pattern("ball"))])).write(toFile: path, atomically: true, encoding: .utf8)
        let (head, body) = try await server.server.get("/api/reload", method: "POST")
        #expect(head.status == 200)
        let report = try JSONSerialization.jsonObject(with: Data(body)) as? [String: [String]]
        #expect(report?["removed"] == ["two"])
        #expect(report?["unchanged"] == ["one"])
        #expect(try await server.server.status()["maxClients"] as? Int == 256)
        try await eventually(10, "the settings left for the next start logged") {
            server.standardErrorText.contains("changed settings take effect at the next start: max-clients")
        }
    }

    /// Reloads that add, remove and change streams, each with a viewer, leave no pipeline,
    /// descriptor, thread or memory behind.
    @Test func fortyReloadCyclesLeaveNothingBehind() async throws {
        @Sendable func configuration(_ cycle: Int) -> String {
            let fast = "framerate=15/1 ! jpegenc ! appsink name=sink"
            return "idle-timeout: 0\nstreams:\n"
                + "  keep:\n    pipeline: \"videotestsrc is-live=true ! video/x-raw,width=64,height=48,\(fast)\"\n"
                + "  changing:\n    pipeline: \"videotestsrc is-live=true ! video/x-raw,width=\(64 + 8 * (cycle % 2)),height=48,\(fast)\"\n"
                + "  s\(cycle % 3):\n    pipeline: \"videotestsrc is-live=true pattern=snow ! video/x-raw,width=64,height=48,\(fast)\"\n"
        }
        let path = try ConfigurationFileTests.file(configuration(0))
        defer { ConfigurationFileTests.remove(path) }
        let server = try await FramecastProcess.serve(["--config", path])
        defer { server.terminate() }
        let pid = server.process.processIdentifier

        @Sendable func cycle(_ index: Int) async throws {
            // A viewer of the stream this reload removes, and one of the stream it changes.
            try await withThrowingTaskGroup(of: Void.self) { viewers in
                let started = ReloadFlag()
                let removedName = "s\(index % 3)"
                let ready = AsyncStream<Void>.makeStream()
                for name in [removedName, "changing"] {
                    viewers.addTask {
                        try await server.server.stream(path: "/stream/\(name)") { reader, parts in
                            while let part = try await parts.next(&reader) {
                                if !part.isPlaceholder { ready.continuation.yield() }
                                if name == "changing", started.isSet { return }
                            }
                        }
                    }
                }
                var frames = ready.stream.makeAsyncIterator()
                _ = await frames.next()
                _ = await frames.next()
                try configuration(index + 1).write(toFile: path, atomically: true, encoding: .utf8)
                started.set()
                let (head, _) = try await server.server.get("/api/reload", method: "POST")
                #expect(head.status == 200)
                try await viewers.waitForAll()
            }
        }

        for index in 0..<3 { try await cycle(index) }
        try await eventually(20, "only the streams being watched running") { try await Self.playing(server) == 0 }
        let baseline = ChurnAndShutdownTests.Footprint(pid: pid, resident: server.residentBytes)
        for index in 3..<43 { try await withDeadline(20, "reload cycle \(index)") { try await cycle(index) } }
        try await eventually(20, "every pipeline stopped") { try await Self.playing(server) == 0 }
        var after = ChurnAndShutdownTests.Footprint(pid: pid, resident: server.residentBytes)
        try await eventually(20, "descriptors and threads back to the baseline \(baseline)") {
            after = ChurnAndShutdownTests.Footprint(pid: pid, resident: server.residentBytes)
            return after.descriptors <= baseline.descriptors + 4 && after.threads <= baseline.threads + 4
        }
        #expect(after.resident <= baseline.resident + 24 << 20, "resident memory grew from \(baseline) to \(after)")
        #expect(server.process.isRunning)
    }

    /// Streams not idle (starting or playing).
    static func playing(_ server: FramecastProcess) async throws -> Int {
        let (_, body) = try await server.server.get("/api/streams")
        let json = try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        return (json?["streams"] as? [[String: Any]])?.filter { ($0["state"] as? String) != "idle" }.count ?? -1
    }

    static func status(of name: String, _ server: FramecastProcess) async throws -> [String: Any] {
        let (_, body) = try await server.server.get("/api/streams/\(name)")
        return try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
    }
}

/// Set once, read from the viewer tasks.
final class ReloadFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

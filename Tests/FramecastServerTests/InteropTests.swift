import Foundation
import Testing

/// Real third-party clients read both framings: ffmpeg's mpjpeg demuxer and GStreamer's
/// multipartdemux (through souphttpsrc), each decoding the JPEGs.
@Suite(.serialized) struct InteropTests {
    static func run(_ tool: String, _ arguments: [String]) async throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [tool] + arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        // Read while it runs so a full pipe never blocks the child.
        let reading = Task.detached { output.fileHandleForReading.readDataToEndOfFile() }
        try await eventually(60, "\(tool) to finish") { !process.isRunning }
        return (process.terminationStatus, String(decoding: await reading.value, as: UTF8.self))
    }

    @Test(arguments: StreamFramingChoice.allCases)
    func ffmpegDecodesTheStream(framing: StreamFramingChoice) async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 320, height: 240)) { server in
            let result = try await Self.run("ffmpeg", [
                "-hide_banner", "-loglevel", "error", "-i", "http://127.0.0.1:\(server.port)/stream?framing=\(framing.rawValue)",
                "-frames:v", "10", "-f", "framemd5", "-",
            ])
            #expect(result.status == 0, "\(result.output)")
            let frames = result.output.split(separator: "\n").filter { !$0.hasPrefix("#") }
            #expect(frames.count == 10)
            #expect(frames.allSatisfy { $0.contains("230400") }, "decoded frames are not 320x240 yuv420p")
        }
    }

    @Test(arguments: StreamFramingChoice.allCases)
    func gstreamerMultipartdemuxDecodesTheStream(framing: StreamFramingChoice) async throws {
        try await TestServer.run(pipeline: TestPipelines.pattern(width: 320, height: 240)) { server in
            let result = try await Self.run("gst-launch-1.0", [
                "-q", "souphttpsrc", "location=http://127.0.0.1:\(server.port)/stream?framing=\(framing.rawValue)",
                "!", "multipartdemux", "!", "jpegdec", "!", "video/x-raw,width=320,height=240", "!", "fakesink", "num-buffers=10",
            ])
            #expect(result.status == 0, "\(result.output)")
        }
    }
}

enum StreamFramingChoice: String, CaseIterable, Sendable {
    case length, early
}

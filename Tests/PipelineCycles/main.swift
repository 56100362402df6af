// Starts and stops one stream's pipeline many times through a real `StreamSupervisor`, then
// shuts GStreamer down so that its leak tracer reports what is still alive. Run as a child
// process by `PipelineCycleTests` (with GST_TRACERS=leaks); by hand:
//
//     GST_TRACERS=leaks GST_DEBUG=GST_TRACER:7 .build/debug/PipelineCycles idle 500
//
// Modes:
// - idle:  acquire a client, wait for a real frame, release, wait until the pipeline is idle.
// - eos:   a pipeline that ends after three frames, restarted while a client stays.
// - error: a pipeline that fails when started, restarted while a client stays.
// - paths: no supervisor; every way `Pipeline.init` can reject a description, `opensDevice`,
//          `PipelineProbe` (a frame, an error, an end without a frame, a timeout), the
//          placeholder picture and a rendition encoder fed a corrupt then a real JPEG, once per
//          cycle: the error paths must release what they took.
// - rendition: a rendition of the stream, a new size each cycle, made, watched until its first
//          frame, left until it is gone (and the stream idle).
//
// Prints `cycle=N fds=N rss_kb=N live_pipelines=N` (rss_kb: resident anonymous memory) after the
// 10th and the last cycle, each measured with no pipeline running (the stream idle and every `Pipeline` freed), so that the
// two lines compare like with like. Exits 0, or 1 with the reason on stderr.
import CoreMetrics
import Foundation
import FramecastServer
import Logging
import MediaPipeline
import NIOCore
import NIOPosix
import Synchronization

enum Mode: String {
    case idle, eos, error, paths, rendition

    /// The appsinks do not sync to the clock: a live source's first frame would wait for its
    /// latency (about 55 ms at 30 fps) and three frames of the ending one take 100 ms, which would
    /// make 500 cycles of each mode take a minute or more without changing what is started or freed.
    var pipeline: String {
        switch self {
        case .idle, .rendition:
            "videotestsrc is-live=true ! video/x-raw,width=64,height=48,framerate=30/1 ! jpegenc ! appsink name=sink sync=false"
        case .eos:
            "videotestsrc num-buffers=3 ! video/x-raw,width=64,height=48 ! jpegenc ! appsink name=sink sync=false"
        case .error:
            // Valid (jpegparse offers image/jpeg), but the file source cannot open its file.
            "filesrc location=/nonexistent/framecast ! jpegparse ! appsink name=sink"
        case .paths:
            "videotestsrc ! video/x-raw,width=64,height=48 ! jpegenc ! appsink name=sink sync=false"
        }
    }
}

struct HarnessFailure: Error, CustomStringConvertible {
    let description: String
}

/// Polls `condition` every millisecond until it holds, for at most `seconds`.
func waitUntil(_ seconds: Double, _ what: @autoclosure () -> String, _ condition: () -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while !condition() {
        guard Date() < deadline else { throw HarnessFailure(description: "timed out after \(seconds) s waiting for \(what())") }
        try await Task.sleep(for: .milliseconds(1))
    }
}

/// One line on stdout, unbuffered (the parent reads it even if this process dies later).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

func warn(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Open file descriptors of this process (the directory stream's own descriptor not counted).
func openDescriptors() -> Int {
    guard let directory = opendir("/proc/self/fd") else { return -1 }
    defer { closedir(directory) }
    var count = 0
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        if name != "." && name != ".." { count += 1 }
    }
    return count - 1
}

/// Resident anonymous memory of this process in kB (RssAnon): what a leak grows. File-backed
/// pages are not counted: the first placeholder picture maps Pango's and fontconfig's files
/// (about 8 MB), whenever a cycle happens to be slow enough to show one.
func residentKilobytes() -> Int {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    let line = status.split(separator: "\n").first { $0.hasPrefix("RssAnon:") } ?? ""
    return Int(line.split(separator: " ").dropFirst().first ?? "") ?? -1
}

/// Waits until the stream (if any) runs no pipeline (idle, or failed with nobody watching) and
/// every pipeline is freed, then prints one measurement.
func report(cycle: Int, _ supervisor: StreamSupervisor?) async throws {
    if let supervisor {
        try await waitUntil(10, "the stream idle before measuring cycle \(cycle) (state \(supervisor.state))") {
            supervisor.state == .idle || supervisor.state == .error
        }
    }
    try await waitUntil(10, "every pipeline freed before measuring cycle \(cycle) (\(Pipeline.liveCount) alive)") {
        Pipeline.liveCount == 0
    }
    say("cycle=\(cycle) fds=\(openDescriptors()) rss_kb=\(residentKilobytes()) live_pipelines=\(Pipeline.liveCount)")
}

/// idle: one start and one idle stop per cycle.
func runIdleCycles(_ cycles: Int, _ supervisor: StreamSupervisor) async throws {
    for cycle in 1...cycles {
        let framesBefore = supervisor.status().framesPublished
        let lease = supervisor.acquireClient()
        try await waitUntil(10, "a frame in cycle \(cycle) (state \(supervisor.state))") {
            supervisor.status().framesPublished > framesBefore
        }
        lease.release()
        try await waitUntil(10, "the stream idle after cycle \(cycle) (state \(supervisor.state))") {
            supervisor.state == .idle
        }
        if cycle == 10 || cycle == cycles { try await report(cycle: cycle, supervisor) }
    }
}

/// eos and error: a client stays while the supervisor restarts the pipeline; each restart is a
/// cycle. The client leaves at the two measuring points so that nothing runs while measuring.
func runRestartCycles(_ cycles: Int, _ supervisor: StreamSupervisor) async throws {
    for checkpoint in [10, cycles] {
        let lease = supervisor.acquireClient()
        try await waitUntil(300, "restart \(checkpoint) (at \(supervisor.status().restarts), state \(supervisor.state))") {
            supervisor.status().restarts >= checkpoint
        }
        lease.release()
        try await report(cycle: checkpoint, supervisor)
    }
}

/// Which `PipelineError` a description is rejected with (nil: accepted).
func rejection(of description: String) -> String? {
    do {
        try Pipeline.validate(description)
        return nil
    } catch {
        return switch error {
        case .empty: "empty"
        case .syntax: "syntax"
        case .missingElements: "missingElements"
        case .badProperty: "badProperty"
        case .link: "link"
        case .noSink: "noSink"
        case .sinkNotAppSink: "sinkNotAppSink"
        case .notJPEG: "notJPEG"
        default: "\(error)"
        }
    }
}

/// paths: each cycle takes every error path once; a surprise (a description accepted that should
/// not be, a probe that ends the wrong way) fails the run, so the paths are known to be taken.
func runPathCycles(_ cycles: Int) async throws {
    let rejected: [(String, String?)] = [
        ("   ", "empty"),
        ("videotestsrc ! ! appsink name=sink", "syntax"),
        ("videotestsrc ! nosuchencoder ! appsink name=sink", "missingElements"),
        ("videotestsrc nosuchproperty=1 ! jpegenc ! appsink name=sink", "badProperty"),
        ("videotestsrc ! audioconvert ! appsink name=sink", "link"),
        ("videotestsrc ! jpegenc ! fakesink", "noSink"),
        ("videotestsrc ! jpegenc ! fakesink name=sink", "sinkNotAppSink"),
        ("videotestsrc ! video/x-raw,width=64,height=48 ! appsink name=sink", "notJPEG"),
        ("appsink name=sink", nil),
        (Mode.paths.pipeline, nil),
    ]
    let devices: [(String, Bool)] = [
        (Mode.paths.pipeline, false),
        ("v4l2src device=/dev/nonexistent ! jpegparse ! appsink name=sink", true),
        ("appsink name=sink", false),
    ]
    for cycle in 1...cycles {
        for (description, expected) in rejected {
            let got = rejection(of: description)
            guard got == expected else {
                throw HarnessFailure(description: "`\(description)`: expected \(expected ?? "acceptance"), got \(got ?? "acceptance")")
            }
        }
        for (description, expected) in devices {
            let got = (try? Pipeline.opensDevice(description)) ?? !expected
            guard got == expected else { throw HarnessFailure(description: "opensDevice(`\(description)`) is \(got)") }
        }
        let probes: [(String, Double, String)] = [
            (Mode.paths.pipeline, 10, "frame"),
            (Mode.error.pipeline, 10, "failed"),
            ("videotestsrc num-buffers=0 ! video/x-raw,width=64,height=48 ! jpegenc ! appsink name=sink", 10, "ended"),
            ("videotestsrc is-live=true ! identity drop-probability=1.0 ! jpegenc ! appsink name=sink", 0.01, "timeout"),
        ]
        for (description, timeout, expected) in probes {
            let outcome =
                switch await PipelineProbe.firstFrame(of: description, timeout: timeout) {
                case .success: "frame"
                case .failure(.failed): "failed"
                case .failure(.endedWithoutFrame): "ended"
                case .failure(.noFrame): "timeout"
                case .failure(.invalid(let error)): "invalid: \(error)"
                }
            guard outcome == expected else { throw HarnessFailure(description: "probe of `\(description)`: \(outcome)") }
        }
        guard let picture = PlaceholderRenderer.render(width: 64, height: 48, text: "NO SIGNAL\ncycles") else {
            throw HarnessFailure(description: "the placeholder did not render")
        }
        try await encodeOnce(picture)
        if cycle == 10 || cycle == cycles { try await report(cycle: cycle, nil) }
    }
}

/// A rendition encoder's paths: a corrupt JPEG refused, a real one encoded, then stopped.
func encodeOnce(_ jpeg: [UInt8]) async throws {
    let encoded = Atomic<Int>(0)
    let encoder = try RenditionEncoder(
        width: 32, height: 24, quality: 50, crop: nil, onSample: { _, _ in encoded.add(1, ordering: .relaxed) }, onBusEvent: { _ in })
    try encoder.play()
    let corrupt = Array(jpeg.prefix(40)) + [UInt8](repeating: 0x55, count: 200)
    let refused = corrupt.withUnsafeBytes { bytes in
        (try? encoder.encode(bytes, sourceWidth: 64, sourceHeight: 48, timestamp: 1)) == nil
    }
    guard refused else { throw HarnessFailure(description: "a corrupt JPEG was encoded") }
    try jpeg.withUnsafeBytes { bytes in try encoder.encode(bytes, sourceWidth: 64, sourceHeight: 48, timestamp: 2) }
    try await waitUntil(10, "the rendition encoder's picture") { encoded.load(ordering: .relaxed) > 0 }
    encoder.stop()
}

/// rendition: per cycle a rendition of a new size is made through the stream's `RenditionSet`,
/// watched until its first frame, left, and waited for until it is gone and the stream is idle.
func runRenditionCycles(_ cycles: Int, _ supervisor: StreamSupervisor, logger: Logger) async throws {
    let loops = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let renditions = RenditionSet(
        source: supervisor, named: [:], limit: 4, metricsFactory: NOOPMetricsHandler.instance, logger: logger, creationsPerSecond: 1000)
    for cycle in 1...cycles {
        let request = RenditionRequest(width: 16 + cycle % 3 * 16, quality: 1 + cycle % 100)
        guard case .success(.rendition(let rendition, let lease)) = await renditions.acquire(request, on: loops.next()) else {
            throw HarnessFailure(description: "rendition \(cycle) refused")
        }
        try await waitUntil(10, "the rendition's first frame in cycle \(cycle) (state \(rendition.state))") {
            rendition.status().framesPublished > 0
        }
        lease.release()
        try await waitUntil(10, "the rendition gone after cycle \(cycle)") { renditions.liveCount == 0 }
        try await waitUntil(10, "the stream idle after cycle \(cycle) (state \(supervisor.state))") { supervisor.state == .idle }
        if cycle == 10 || cycle == cycles { try await report(cycle: cycle, supervisor) }
    }
    await renditions.shutdown()
    try await loops.shutdownGracefully()
}

let arguments = CommandLine.arguments
guard arguments.count >= 2, let mode = Mode(rawValue: arguments[1]) else {
    warn("usage: PipelineCycles idle|eos|error|paths|rendition [cycles]")
    exit(2)
}
let cycles = arguments.count >= 3 ? max(10, Int(arguments[2]) ?? 500) : 500

var logger = Logger(label: "framecast.cycles") { StreamLogHandler.standardError(label: $0) }
logger.logLevel = Logger.Level.critical

var settings = StreamSettings()
settings.idleTimeout = 0.01
settings.minimumRestartDelay = 0.01
settings.maximumRestartDelay = 0.01

var supervisor: StreamSupervisor? = try StreamSupervisor(
    name: "cycles", pipeline: mode.pipeline, settings: settings,
    metrics: StreamMetrics(stream: "cycles", factory: NOOPMetricsHandler.instance), logger: logger)
let runner = Task { [supervisor] in try await supervisor!.run() }

let started = Date()
do {
    switch mode {
    case .idle: try await runIdleCycles(cycles, supervisor!)
    case .eos, .error: try await runRestartCycles(cycles, supervisor!)
    case .paths: try await runPathCycles(cycles)
    case .rendition: try await runRenditionCycles(cycles, supervisor!, logger: logger)
    }
} catch {
    warn("PipelineCycles \(mode) failed: \(error)")
    exit(1)
}

// Shut the stream down (run() returns once cancelled), drop every reference, wait until every
// pipeline is freed, then let GStreamer's leak tracer report.
runner.cancel()
try await runner.value
weak var released = supervisor
supervisor = nil
do {
    try await waitUntil(10, "every pipeline freed at the end (\(Pipeline.liveCount) alive)") { Pipeline.liveCount == 0 }
    // Its idle ticks end within one repeat interval of the shutdown.
    try await waitUntil(5, "the supervisor freed") { released == nil }
} catch {
    warn("PipelineCycles \(mode) failed: \(error)")
    exit(1)
}
say("seconds=\(String(format: "%.1f", Date().timeIntervalSince(started)))")
GStreamer.deinitialize()
say("deinitialized")
exit(0)

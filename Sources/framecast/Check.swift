import ArgumentParser
import Foundation
import FramecastServer
import MediaPipeline

/// `framecast check [FILE|DIR]...`: parse every pipeline with its variables resolved, run each that
/// opens no device until its first frame, and print one line per stream.
struct Check: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check pipeline files: parse them, run those that need no device until their first frame.",
        discussion: "Prints one line per stream: name, OK or the error, resolution and frame size. Exit status 2 if any fails."
    )

    @Argument(help: "Pipeline files or folders of *.pipeline files (default: the installation's pipelines folder).")
    var paths: [String] = []

    @Option(name: .customLong("set"), help: ArgumentHelp("A pipeline variable (NAME=VALUE or STREAM.NAME=VALUE); repeatable.", valueName: "[STREAM.]NAME=VALUE"))
    var assignments: [String] = []

    @Option(parsing: .unconditional, help: "Seconds to wait for each pipeline's first frame (0.1 to 3600).")
    var timeout = "10"

    func validate() throws {
        if case .failure(let refusal) = Limits.checkTimeout.parse(timeout) { throw StartupFailure(refusal.description).exitCode }
    }

    func run() async throws {
        var sources = StreamSources()
        sources.variables.environment = ProcessInfo.processInfo.environment
        var files: [String] = []
        do {
            for assignment in assignments { try sources.variables.assign(assignment) }
            var targets = paths
            if targets.isEmpty {
                guard let shipped = InstallationFolder.locate("pipelines") else {
                    throw StartupFailure("no pipelines folder found: name a file or folder to check")
                }
                targets = [shipped]
            }
            for target in targets {
                var isDirectory: ObjCBool = false
                guard FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) else {
                    throw StartupFailure("\(target): no such file or folder")
                }
                files += isDirectory.boolValue ? try StreamSources.pipelineFiles(in: target) : [target]
            }
        } catch let failure as StartupFailure {
            throw failure.exitCode
        } catch let error as PipelineError {
            throw StartupFailure(error.description).exitCode
        } catch let failure as StreamSources.Failure {
            throw StartupFailure(failure.description).exitCode
        }

        let width = max(8, files.map { StreamSources.streamName(forFile: $0).count }.max() ?? 0)
        let timeout = (try? Limits.checkTimeout.parse(self.timeout).get()) ?? 10
        var failures = 0
        for file in files {
            let name = StreamSources.streamName(forFile: file)
            let line = await Self.check(file: file, sources: sources, timeout: timeout)
            if line.hasPrefix("ERROR") { failures += 1 }
            print(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + line)
        }
        if failures > 0 { throw ExitCode(2) }
    }

    /// "OK  1280x720  45.2 KB", "OK  not run (opens a device)" or "ERROR  reason".
    static func check(file: String, sources: StreamSources, timeout: Double) async -> String {
        let definition: StreamDefinition
        do {
            definition = try sources.fromFile(file)
            try Pipeline.validate(definition.pipeline)
            if try Pipeline.opensDevice(definition.pipeline) {
                return "OK     not run (opens a device)"
            }
        } catch let failure as StreamSources.Failure {
            return "ERROR  \(failure.description)"
        } catch {
            return "ERROR  \(error)"
        }
        switch await PipelineProbe.firstFrame(of: definition.pipeline, timeout: timeout) {
        case .success(let frame):
            let size = String(format: "%.1f KB", Double(frame.bytes) / 1024)
            return "OK     \(frame.format.width)x\(frame.format.height)  \(size)"
        case .failure(let failure):
            return "ERROR  \(failure.description)"
        }
    }
}

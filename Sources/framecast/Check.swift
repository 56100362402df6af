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

    @Option(help: ArgumentHelp("Check a configuration file instead: every key, and every stream it defines.", valueName: "FILE"))
    var config: String?

    @Option(name: .customLong("set"), help: ArgumentHelp("A pipeline variable (NAME=VALUE or STREAM.NAME=VALUE); repeatable.", valueName: "[STREAM.]NAME=VALUE"))
    var assignments: [String] = []

    @Option(parsing: .unconditional, help: "Seconds to wait for each pipeline's first frame (0.1 to 3600).")
    var timeout = "10"

    func validate() throws {
        _ = try Limits.checkTimeout.read(timeout)
    }

    func run() async throws {
        let timeout = try Limits.checkTimeout.read(self.timeout)
        if let config {
            try await checkConfiguration(config, timeout: timeout)
            return
        }
        var sources = StreamSources()
        sources.variables = try PipelineVariables.commandLine(assignments)
        let files = try pipelineFiles()

        let width = max(8, files.map { StreamSources.streamName(forFile: $0).count }.max() ?? 0)
        var failures = 0
        for file in files {
            let name = StreamSources.streamName(forFile: file)
            let line = await Self.check(file: file, sources: sources, timeout: timeout)
            if line.hasPrefix("ERROR") { failures += 1 }
            print(name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + line)
        }
        if failures > 0 { throw ExitCode(2) }
    }

    /// `--config FILE`: the file read as `serve` reads it (each key against its flag), then each
    /// stream checked like a pipeline file.
    private func checkConfiguration(_ path: String, timeout: Double) async throws {
        guard let file = try Serve.configurationFile(explicit: path) else { return }
        let serve = try Serve.layered(file, Serve.environmentSettings(ProcessInfo.processInfo.environment), [])
        let definitions = try serve.streams.definitions()
        _ = try serve.numbers()
        _ = try serve.namedRenditions()
        let width = max(8, definitions.map(\.name.count).max() ?? 0)
        var failures = 0
        for definition in definitions {
            let line = Self.line(for: await StreamCheck.run(definition.pipeline, probeTimeout: timeout))
            if line.hasPrefix("ERROR") { failures += 1 }
            print(definition.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + line)
        }
        if failures > 0 { throw ExitCode(2) }
        print("\(path): OK")
    }

    /// The files named on the command line, each folder's *.pipeline files in its place.
    private func pipelineFiles() throws(ExitCode) -> [String] {
        var targets = paths
        if targets.isEmpty {
            guard let shipped = InstallationFolder.locate("pipelines") else {
                throw StartupFailure("no pipelines folder found: name a file or folder to check").exitCode
            }
            targets = [shipped]
        }
        var files: [String] = []
        for target in targets {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: target, isDirectory: &isDirectory) else {
                throw StartupFailure("\(target): no such file or folder").exitCode
            }
            guard isDirectory.boolValue else {
                files.append(target)
                continue
            }
            do throws(StreamSources.Failure) {
                files += try StreamSources.pipelineFiles(in: target)
            } catch {
                throw StartupFailure(error.description).exitCode
            }
        }
        return files
    }

    /// "OK  1280x720  45.2 KB", "OK  not run (opens a device)" or "ERROR  reason".
    static func check(file: String, sources: StreamSources, timeout: Double) async -> String {
        let definition: StreamDefinition
        do throws(StreamSources.Failure) {
            definition = try sources.fromFile(file)
        } catch {
            return "ERROR  \(error.description)"
        }
        return line(for: await StreamCheck.run(definition.pipeline, probeTimeout: timeout))
    }

    /// "OK  1280x720  45.2 KB", "OK  not run (opens a device)" or "ERROR  reason".
    static func line(for outcome: StreamCheck.Outcome) -> String {
        switch outcome {
        case .valid:
            return "OK"
        case .opensDevice:
            return "OK     not run (opens a device)"
        case .firstFrame(let frame):
            let size = String(format: "%.1f KB", Double(frame.bytes) / 1024)
            return "OK     \(frame.format.width)x\(frame.format.height)  \(size)"
        case .failed(let reason):
            return "ERROR  \(reason)"
        }
    }
}

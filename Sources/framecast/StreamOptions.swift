import ArgumentParser
import Foundation
import FramecastServer
import MediaPipeline

/// The options that say which streams to serve, shared by `serve` and `check`.
struct StreamOptions: ParsableArguments {
    @Option(help: "A gst-launch description ending in `appsink name=sink` that yields image/jpeg (stream `main`).")
    var pipeline: String?

    @Option(name: .customLong("pipeline-file"), help: "A pipeline file (`#` lines are comments); the stream is named after the file.")
    var pipelineFile: String?

    @Option(name: .customLong("pipelines"), help: "Serve every DIR/*.pipeline as a stream named after its file.")
    var pipelinesDirectory: String?

    @Option(name: .customLong("stream"), help: ArgumentHelp("Add a stream: NAME=FILE or NAME=DESCRIPTION (repeatable).", valueName: "NAME=FILE_OR_DESCRIPTION"))
    var streams: [String] = []

    @Option(name: .customLong("set"), help: ArgumentHelp("A pipeline variable for every stream (NAME=VALUE) or one (STREAM.NAME=VALUE); repeatable.", valueName: "[STREAM.]NAME=VALUE"))
    var assignments: [String] = []

    func sources() throws(ExitCode) -> StreamSources {
        var sources = StreamSources()
        sources.pipeline = pipeline
        sources.pipelineFile = pipelineFile
        sources.pipelinesDirectory = pipelinesDirectory
        sources.streams = streams
        sources.variables = try PipelineVariables.commandLine(assignments)
        return sources
    }

    /// The streams to serve (or to check), variables expanded.
    func definitions() throws(ExitCode) -> [StreamDefinition] {
        let sources = try sources()
        do throws(StreamSources.Failure) {
            return try sources.resolve()
        } catch {
            throw StartupFailure(error.description).exitCode
        }
    }
}

import ArgumentParser
import FramecastServer
import Foundation
import Logging
import MediaPipeline
import ServiceLifecycle
import UnixSignals

/// The command line: parse, build, run. Nothing else lives here.
@main
struct Framecast: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "framecast",
        abstract: "Serve a GStreamer pipeline's JPEG frames to browsers as MJPEG.",
        discussion: "With no pipeline, serves a built-in moving test pattern (1280x720, 30 fps)."
    )

    @Option(help: "A gst-launch description ending in `appsink name=sink` that yields image/jpeg.")
    var pipeline: String?

    @Option(name: .customLong("pipeline-file"), help: "A file holding the description (`#` lines are comments).")
    var pipelineFile: String?

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 8080

    @Option(name: .customLong("idle-timeout"), help: "Seconds without clients before the pipeline is stopped and the camera released.")
    var idleTimeout: Double = 10

    @Flag(name: .customLong("always-on"), help: "Keep the pipeline running with no clients.")
    var alwaysOn = false

    @Option(name: .customLong("web-root"), help: "Folder of the web page (default: the Web folder of this installation).")
    var webRoot: String?

    @Flag(help: "Validate the pipeline and exit (status 0 when it can be served, 2 when not).")
    var check = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        if pipeline != nil, pipelineFile != nil {
            throw ValidationError("give either --pipeline or --pipeline-file, not both")
        }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard idleTimeout >= 0, idleTimeout.isFinite else { throw ValidationError("--idle-timeout must be 0 or more seconds") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "framecast")

        let description: String
        do {
            description = try pipelineFile.map { path throws(PipelineError) in try PipelineFile.load(path: path) }
                ?? pipeline ?? BuiltInPipelines.testPattern
        } catch {
            throw Self.startupFailure(error)
        }

        if check {
            do {
                try Pipeline.validate(description)
            } catch {
                throw Self.startupFailure(error)
            }
            print("OK: \(description)")
            return
        }

        var configuration = ServerConfiguration(pipeline: description)
        configuration.host = host
        configuration.port = port
        configuration.stream.idleTimeout = idleTimeout
        configuration.stream.alwaysOn = alwaysOn
        configuration.webRoot = WebRoot.locate(explicit: webRoot)
        if configuration.webRoot == nil {
            logger.warning("no web root found: `/` will not serve the page (give --web-root)")
        }

        let host = self.host
        let application: any Service
        do {
            application = try buildApplication(configuration: configuration, logger: logger) { port in
                logger.info("serving http://\(host):\(port)/ (stream: /stream, snapshot: /snapshot, status: /api/status)")
            }
        } catch let error as PipelineError {
            throw Self.startupFailure(error)
        }

        var group = ServiceGroupConfiguration(services: [application], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // Streams end at once on shutdown; this only bounds a connection that will not close.
        group.maximumGracefulShutdownDuration = Duration.milliseconds(1500)
        group.maximumCancellationDuration = Duration.milliseconds(300)
        do {
            try await ServiceGroup(configuration: group).run()
        } catch {
            logger.warning("shut down with an error: \(error)")
        }
    }

    /// Prints the reason to stderr and exits with status 2.
    private static func startupFailure(_ error: PipelineError) -> ExitCode {
        FileHandle.standardError.write(Data("framecast: \(error.description)\n".utf8))
        return ExitCode(2)
    }
}

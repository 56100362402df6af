import ArgumentParser
import FramecastServer
import Foundation
import Logging
import MediaPipeline
import ServiceLifecycle
import UnixSignals

/// `framecast [serve]`: run the server.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the streams over HTTP (the default command).",
        discussion: "With no pipeline, serves a built-in moving test pattern (1280x720, 30 fps) as stream `test`."
    )

    @OptionGroup var streams: StreamOptions

    @Option(help: "Address to listen on.")
    var host = "127.0.0.1"

    @Option(help: "Port to listen on.")
    var port = 8080

    @Option(name: .customLong("idle-timeout"), help: "Seconds without clients before a pipeline is stopped and its camera released.")
    var idleTimeout: Double = 10

    @Flag(name: .customLong("always-on"), help: "Keep the pipelines running with no clients.")
    var alwaysOn = false

    @Option(name: .customLong("warmup-frames"), help: "Frames to drop after each pipeline start (dark frames while a camera's exposure settles).")
    var warmupFrames = 0

    @Option(name: .customLong("frame-timeout"), help: "Seconds without a frame before a running pipeline counts as failed and is restarted.")
    var frameTimeout: Double = 5

    @Option(name: .customLong("client-timeout"), help: "Seconds a streaming client may accept no bytes before it is disconnected.")
    var clientTimeout: Double = 30

    @Option(name: .customLong("max-clients"), help: "Streaming clients (streams and WebSockets) served at once; past it, 503.")
    var maxClients = 256

    @Flag(name: .customLong("no-sendfile"), help: "Write frames to stream clients from memory instead of sending them from a memory file with sendfile(2).")
    var noSendfile = false

    @Option(name: .customLong("header-timeout"), help: "Seconds a connection may take to send its request headers, or stay idle between requests.")
    var headerTimeout: Double = 10

    @Option(help: ArgumentHelp("Require HTTP Basic authentication with this user and password (every route but /healthz).", valueName: "USER:PASSWORD"))
    var auth: String?

    @Option(help: ArgumentHelp("Require HTTP Basic authentication against an htpasswd file of bcrypt entries (htpasswd -B).", valueName: "FILE"))
    var htpasswd: String?

    @Option(name: .customLong("allow-origin"), help: "Let scripts on this origin read responses (CORS); off by default.")
    var allowOrigin: String?

    @Option(name: .customLong("web-root"), help: "Folder of the web page (default: the Web folder of this installation).")
    var webRoot: String?

    @Flag(help: "Validate the pipelines and exit (status 0 when they can be served, 2 when not).")
    var check = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard idleTimeout >= 0, idleTimeout.isFinite else { throw ValidationError("--idle-timeout must be 0 or more seconds") }
        guard warmupFrames >= 0 else { throw ValidationError("--warmup-frames must be 0 or more") }
        for (flag, value) in [("--frame-timeout", frameTimeout), ("--client-timeout", clientTimeout), ("--header-timeout", headerTimeout)] {
            guard value > 0, value.isFinite else { throw ValidationError("\(flag) must be a positive number of seconds") }
        }
        guard maxClients > 0 else { throw ValidationError("--max-clients must be at least 1") }
        if auth != nil, htpasswd != nil { throw ValidationError("give either --auth or --htpasswd, not both") }
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

        let definitions: [StreamDefinition]
        do {
            definitions = try streams.definitions()
        } catch let failure as StartupFailure {
            throw failure.exitCode
        }

        if check {
            for definition in definitions {
                do {
                    try Pipeline.validate(definition.pipeline)
                } catch {
                    throw StartupFailure("stream \(definition.name): \(error.description)").exitCode
                }
                print("OK \(definition.name): \(definition.pipeline)")
            }
            return
        }

        var configuration = ServerConfiguration(streams: definitions)
        configuration.host = host
        configuration.port = port
        configuration.stream.idleTimeout = idleTimeout
        configuration.stream.alwaysOn = alwaysOn
        configuration.stream.warmupFrames = warmupFrames
        configuration.stream.frameTimeout = frameTimeout
        configuration.stream.sendfile = !noSendfile
        configuration.clientTimeout = clientTimeout
        configuration.maxClients = maxClients
        configuration.headerTimeout = headerTimeout
        configuration.allowOrigin = allowOrigin
        do {
            if let auth { configuration.access = try AccessControl.single(auth) }
            if let htpasswd { configuration.access = try AccessControl.htpasswd(path: htpasswd) }
        } catch {
            throw StartupFailure(error.description).exitCode
        }
        if configuration.access == nil, host != "127.0.0.1", host != "localhost", host != "::1" {
            logger.warning("listening on \(host) without authentication: anyone who can reach it sees the cameras (--auth or --htpasswd)")
        }
        configuration.webRoot = WebRoot.locate(explicit: webRoot)
        if configuration.webRoot == nil {
            logger.warning("no web root found: `/` will not serve the page (give --web-root)")
        }

        let host = self.host
        let names = definitions.map(\.name).sorted().joined(separator: ", ")
        let application: any Service
        do {
            application = try buildApplication(configuration: configuration, logger: logger) { port in
                logger.info("serving http://\(host):\(port)/ (streams: \(names))")
            }
        } catch let error as PipelineError {
            throw StartupFailure(error.description).exitCode
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
}

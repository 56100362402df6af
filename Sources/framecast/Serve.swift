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

    @Option(parsing: .unconditional, help: "Port to listen on (0 to 65535; 0 picks a free one).")
    var port = "8080"

    @Option(name: .customLong("idle-timeout"), parsing: .unconditional, help: "Seconds without clients before a pipeline is stopped and its camera released (0 to 604800).")
    var idleTimeout = "10"

    @Flag(name: .customLong("always-on"), help: "Keep the pipelines running with no clients.")
    var alwaysOn = false

    @Option(name: .customLong("warmup-frames"), parsing: .unconditional, help: "Frames to drop after each pipeline start (dark frames while a camera's exposure settles; 0 to 10000).")
    var warmupFrames = "0"

    @Option(name: .customLong("frame-timeout"), parsing: .unconditional, help: "Seconds without a frame before a running pipeline counts as failed and is restarted (0.1 to 3600).")
    var frameTimeout = "5"

    @Option(name: .customLong("client-timeout"), parsing: .unconditional, help: "Seconds a streaming client may accept no bytes (or a WebSocket leave a ping unanswered) before it is disconnected (0.1 to 86400).")
    var clientTimeout = "30"

    @Option(name: .customLong("max-clients"), parsing: .unconditional, help: "Streaming clients (streams and WebSockets) served at once; past it, 503 (1 to 100000).")
    var maxClients = "256"

    @Option(name: .customLong("max-renditions"), parsing: .unconditional, help: "Renditions (on-demand sizes: ?width=, ?height=, ?quality=, ?crop=) of one stream alive at once; past it, 503 (0 to 64; 0 serves none).")
    var maxRenditions = "4"

    @Option(name: .customLong("rendition"), help: ArgumentHelp("A named rendition at a stable URL, /stream/STREAM@NAME (repeatable): e.g. thumb=width=320,quality=50, or cam@zoom=crop=640,360,640,360. Without STREAM@ every stream has it.", valueName: "[STREAM@]NAME=SPEC"))
    var renditions: [String] = []

    @Flag(name: .customLong("no-sendfile"), help: "Write frames to stream clients from memory instead of sending them from a memory file with sendfile(2).")
    var noSendfile = false

    @Option(name: .customLong("header-timeout"), parsing: .unconditional, help: "Seconds a request may take to arrive whole (head and body, from the connection's first byte or the previous response), or a connection stay idle between requests (0.1 to 3600).")
    var headerTimeout = "10"

    @Option(help: ArgumentHelp("Require HTTP Basic authentication with this user and password (every route but /healthz).", valueName: "USER:PASSWORD"))
    var auth: String?

    @Option(help: ArgumentHelp("Require HTTP Basic authentication against an htpasswd file of bcrypt entries (htpasswd -B).", valueName: "FILE"))
    var htpasswd: String?

    @Option(name: .customLong("allow-origin"), help: "Let scripts on this origin read responses (CORS); off by default.")
    var allowOrigin: String?

    @Option(name: .customLong("allow-host"), help: ArgumentHelp("Also answer requests for this host name (repeatable). On a loopback address only localhost, 127.0.0.1 and [::1] are served otherwise (a guard against DNS rebinding); on other addresses, giving it restricts the names served.", valueName: "NAME"))
    var allowHosts: [String] = []

    @Option(name: .customLong("web-root"), help: "Folder of the web page (default: the Web folder of this installation).")
    var webRoot: String?

    @Flag(help: "Validate the pipelines and exit (status 0 when they can be served, 2 when not).")
    var check = false

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel = "info"

    /// The numeric flags, each read into its range (`Limits`).
    struct Numbers {
        var port: Int
        var idleTimeout: Double
        var warmupFrames: Int
        var frameTimeout: Double
        var clientTimeout: Double
        var maxClients: Int
        var headerTimeout: Double
        var maxRenditions: Int
    }

    /// Out of range is a start-up error naming the flag and its range (exit status 2).
    func numbers() throws(ExitCode) -> Numbers {
        Numbers(
            port: Int(try Limits.port.read(port)),
            idleTimeout: try Limits.idleTimeout.read(idleTimeout),
            warmupFrames: Int(try Limits.warmupFrames.read(warmupFrames)),
            frameTimeout: try Limits.frameTimeout.read(frameTimeout),
            clientTimeout: try Limits.clientTimeout.read(clientTimeout),
            maxClients: Int(try Limits.maxClients.read(maxClients)),
            headerTimeout: try Limits.headerTimeout.read(headerTimeout),
            maxRenditions: Int(try Limits.maxRenditions.read(maxRenditions)))
    }

    /// `--rendition` flags, each read whole or a start-up error (exit status 2).
    func namedRenditions() throws(ExitCode) -> [NamedRendition] {
        var named: [NamedRendition] = []
        for text in renditions {
            switch NamedRendition.parse(text) {
            case .success(let rendition): named.append(rendition)
            case .failure(let refusal): throw StartupFailure(refusal.description).exitCode
            }
        }
        return named
    }

    func validate() throws {
        _ = try numbers()
        _ = try namedRenditions()
        for name in allowHosts {
            if let problem = ServerConfiguration.allowHostProblem(name) { throw StartupFailure(problem).exitCode }
        }
        if auth != nil, htpasswd != nil { throw ValidationError("give either --auth or --htpasswd, not both") }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of \(Logger.Level.allCases.map(\.rawValue).joined(separator: ", "))")
        }
    }

    func run() async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        LoggingSystem.bootstrap { label in
            // Every line escaped: user names, paths and element messages come from outside.
            var handler = EscapingLogHandler(StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "framecast")

        let definitions = try streams.definitions()
        if check {
            for definition in definitions {
                if case .failed(let reason) = await StreamCheck.run(definition.pipeline, probeTimeout: nil) {
                    throw StartupFailure("stream \(definition.name): \(reason)").exitCode
                }
                print("OK \(definition.name): \(CredentialMask.mask(definition.pipeline))")
            }
            return
        }

        let numbers = try numbers()
        var configuration = ServerConfiguration(streams: definitions)
        configuration.host = host
        configuration.port = numbers.port
        configuration.stream.idleTimeout = numbers.idleTimeout
        configuration.stream.alwaysOn = alwaysOn
        configuration.stream.warmupFrames = numbers.warmupFrames
        configuration.stream.frameTimeout = numbers.frameTimeout
        configuration.sendfile = !noSendfile
        configuration.clientTimeout = numbers.clientTimeout
        configuration.maxClients = numbers.maxClients
        configuration.headerTimeout = numbers.headerTimeout
        configuration.maxRenditions = numbers.maxRenditions
        configuration.renditions = try namedRenditions()
        for rendition in configuration.renditions {
            if let stream = rendition.stream, !definitions.contains(where: { $0.name == stream }) {
                throw StartupFailure("--rendition \(stream)@\(rendition.name): there is no stream named '\(stream)'").exitCode
            }
        }
        configuration.allowOrigin = allowOrigin
        configuration.allowHosts = allowHosts
        do {
            if let auth { configuration.access = try AccessControl.single(auth) }
            if let htpasswd { configuration.access = try AccessControl.htpasswd(path: htpasswd) }
        } catch {
            throw StartupFailure(error.description).exitCode
        }
        if let warning = configuration.access?.mixedCostWarning { logger.warning("\(warning)") }
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

import ArgumentParser
import Glibc
import Synchronization
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

    @Option(help: ArgumentHelp("A YAML configuration file: every flag under its own name (port: 8080), and streams (see README). Flags given here override it. Default: \(ConfigurationFile.defaultPath) when present.", valueName: "FILE"))
    var config: String?

    @OptionGroup var streams: StreamOptions

    @Option(name: .customLong("relay-all"), help: ArgumentHelp("Relay every stream of the origin Framecast at this URL (e.g. http://origin:8080), as relay:URL/stream/NAME streams; streams added or removed there follow within --relay-all-interval.", valueName: "URL"))
    var relayAll: String?

    @Option(name: .customLong("relay-all-interval"), parsing: .unconditional, help: ArgumentHelp("Seconds between reads of the --relay-all origin's stream list (1 to 3600).", valueName: "SECONDS"))
    var relayAllInterval = "20"

    @Option(help: "Address to listen on (default 127.0.0.1; with --unix or socket activation, only when given).")
    var host: String?

    @Option(name: .customLong("unix"), help: ArgumentHelp("Also (or, without --host, only) serve on this unix socket, e.g. behind nginx.", valueName: "PATH"))
    var unixPath: String?

    @Option(name: .customLong("unix-mode"), parsing: .unconditional, help: "Permissions of the --unix socket, in octal (660: its owner and group may connect).")
    var unixMode = "660"

    @Option(name: .customLong("exit-when-idle"), parsing: .unconditional, help: ArgumentHelp("Exit once no stream has had a viewer for this long (1 to 604800; with socket activation systemd starts it again on the next connection).", valueName: "SECONDS"))
    var exitWhenIdle: String?

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

    @Option(name: .customLong("tls-cert"), help: ArgumentHelp("Serve HTTPS (HTTP/2 where the browser offers it) with this PEM certificate chain; needs --tls-key. Read again on SIGHUP and when it changes on disk.", valueName: "FILE"))
    var tlsCert: String?

    @Option(name: .customLong("tls-key"), help: ArgumentHelp("The PEM private key of --tls-cert.", valueName: "FILE"))
    var tlsKey: String?

    @Option(name: .customLong("redirect-http"), parsing: .unconditional, help: ArgumentHelp("With --tls-cert: also listen for plain HTTP on this port and redirect every request to HTTPS (1 to 65535).", valueName: "PORT"))
    var redirectHTTP: String?

    @Option(name: .customLong("hsts"), parsing: .unconditional, help: ArgumentHelp("With --tls-cert: send Strict-Transport-Security with this max-age, so browsers use only HTTPS from then on (0 to 63072000; off by default).", valueName: "SECONDS"))
    var hsts = "0"

    @Option(name: .customLong("tls-check-interval"), parsing: .unconditional, help: ArgumentHelp("Seconds between checks of --tls-cert and --tls-key for a renewed certificate (1 to 86400).", valueName: "SECONDS"))
    var tlsCheckInterval = "60"

    @Option(help: ArgumentHelp("Require HTTP Basic authentication with this user and password (every route but /healthz).", valueName: "USER:PASSWORD"))
    var auth: String?

    @Option(help: ArgumentHelp("Require HTTP Basic authentication against an htpasswd file of bcrypt entries (htpasswd -B).", valueName: "FILE"))
    var htpasswd: String?

    @Option(name: .customLong("link-key-file"), help: ArgumentHelp("Sign links to one stream's pictures with the key in this file (made with 32 random bytes, mode 600, when missing; read again on reload, so a new key revokes every link): see framecast link and POST /api/links.", valueName: "FILE"))
    var linkKeyFile: String?

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
        var exitWhenIdle: Double?
        var unixMode: UInt16
        var redirectHTTP: Int?
        var hsts: Int
        var tlsCheckInterval: Double
        var relayAllInterval: Double
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
            maxRenditions: Int(try Limits.maxRenditions.read(maxRenditions)),
            exitWhenIdle: try exitWhenIdle.map { text throws(ExitCode) in try Limits.exitWhenIdle.read(text) },
            unixMode: try Self.mode(unixMode),
            redirectHTTP: try redirectHTTP.map { text throws(ExitCode) in Int(try Limits.redirectHTTP.read(text)) },
            hsts: Int(try Limits.hsts.read(hsts)),
            tlsCheckInterval: try Limits.tlsCheckInterval.read(tlsCheckInterval),
            relayAllInterval: try Limits.relayAllInterval.read(relayAllInterval))
    }

    /// Flags that make sense only with HTTPS, or only together (checked when serving: `check`
    /// reads one key of a file at a time).
    func tlsProblem(_ numbers: Numbers) -> String? {
        if (tlsCert == nil) != (tlsKey == nil) { return "--tls-cert and --tls-key go together" }
        if tlsCert == nil {
            if numbers.redirectHTTP != nil { return "--redirect-http needs --tls-cert and --tls-key (it redirects to HTTPS)" }
            if numbers.hsts > 0 { return "--hsts needs --tls-cert and --tls-key" }
        }
        if let redirect = numbers.redirectHTTP, redirect != 0, redirect == numbers.port {
            return "--redirect-http must be another port than --port"
        }
        return nil
    }

    /// `--unix-mode`: octal permission bits, 000 to 777.
    static func mode(_ text: String) throws(ExitCode) -> UInt16 {
        guard !text.isEmpty, text.count <= 4, let mode = UInt16(text, radix: 8), mode <= 0o777 else {
            throw StartupFailure("--unix-mode takes octal permissions from 000 to 777 (e.g. 660), not '\(BoundedNumber.quotable(text))'").exitCode
        }
        return mode
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

    /// The streams to serve, each with its named renditions: its pipeline file's, then the
    /// `--rendition` flags' (which win). A flag naming a stream that does not exist is an error.
    func servedDefinitions() throws(ExitCode) -> [StreamDefinition] {
        // With --relay-all alone, the origin's streams are all (not the built-in test pattern).
        var definitions = relayAll != nil && !definesOwnStreams ? [] : try streams.definitions()
        if relayAll != nil {
            for relayed in RelayAllStreams.shared.current where !definitions.contains(where: { $0.name == relayed.name }) {
                definitions.append(relayed)
            }
        }
        for rendition in try namedRenditions() {
            if let stream = rendition.stream, !definitions.contains(where: { $0.name == stream }) {
                throw StartupFailure("--rendition \(stream)@\(rendition.name): there is no stream named '\(stream)'").exitCode
            }
            for index in definitions.indices where rendition.stream == nil || rendition.stream == definitions[index].name {
                definitions[index].renditions[rendition.name] = rendition.request
            }
        }
        return definitions
    }

    /// Whether the options name any stream (without any, the built-in test pattern is served).
    var definesStreams: Bool {
        definesOwnStreams || relayAll != nil
    }

    /// Whether the options name any stream besides `--relay-all`'s.
    var definesOwnStreams: Bool {
        streams.pipeline != nil || streams.pipelineFile != nil || streams.pipelinesDirectory != nil || !streams.streams.isEmpty
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
        // Until the reload handler is installed, a SIGHUP (systemctl reload right after start)
        // would end the process by default.
        signal(SIGHUP, SIG_IGN)
        let commandLine = Self.commandLineArguments()
        let file = try Self.configurationFile(explicit: config)
        let environment = try Self.environmentSettings(ProcessInfo.processInfo.environment)
        let effective = file == nil && environment.arguments.isEmpty ? self : try Self.layered(file, environment, commandLine)
        try await effective.serve(configurationPath: file?.path, commandLine: commandLine)
    }

    /// The `FRAMECAST_*` variables that set flags.
    static func environmentSettings(_ environment: [String: String]) throws(ExitCode) -> EnvironmentSettings {
        do throws(EnvironmentSettings.Failure) {
            return try EnvironmentSettings(environment)
        } catch {
            throw StartupFailure(error.description).exitCode
        }
    }

    /// The arguments in force: the file's, under the environment's, under the command line's. A
    /// key set in a later layer replaces the earlier layers' value.
    static func layeredArguments(_ file: ConfigurationFile?, _ environment: EnvironmentSettings, _ commandLine: [String]) -> [String] {
        let given = Set(commandLine.compactMap(ConfigurationFile.flagName))
        let fromEnvironment = environment.arguments.filter { !given.contains($0.key) }
        let overrides = fromEnvironment.flatMap(\.words) + commandLine
        // A variable that turns a flag off has no words, and still replaces the file's value.
        let overridden = given.union(fromEnvironment.map(\.key))
        return file?.layered(under: overrides, overriding: overridden) ?? overrides
    }

    /// The arguments given to `serve` on the command line (after the subcommand's name, if any).
    static func commandLineArguments() -> [String] {
        var arguments = Array(CommandLine.arguments.dropFirst())
        if arguments.first == "serve" { arguments.removeFirst() }
        return arguments
    }

    /// `--config FILE`, or the default file when it exists; nil without either.
    static func configurationFile(explicit: String?) throws(ExitCode) -> ConfigurationFile? {
        let path: String
        if let explicit {
            path = explicit
        } else if FileManager.default.fileExists(atPath: ConfigurationFile.defaultPath) {
            path = ConfigurationFile.defaultPath
        } else {
            return nil
        }
        do throws(ConfigurationFile.Failure) {
            return try ConfigurationFile(path: path)
        } catch {
            throw StartupFailure(error.description).exitCode
        }
    }

    /// The file's settings under the environment's and the command line's.
    static func layered(_ file: ConfigurationFile?, _ environment: EnvironmentSettings, _ commandLine: [String]) throws(ExitCode) -> Serve {
        do {
            return try Serve.parse(layeredArguments(file, environment, commandLine))
        } catch let exit as ExitCode {
            throw exit
        } catch {
            throw StartupFailure("\(file.map { "\($0.path): " } ?? "")\(Serve.message(for: error))").exitCode
        }
    }

    /// The streams a reload serves: the configuration file and pipeline files read again, under
    /// the same command line. A reason a person can act on when they do not load.
    static func reloadedDefinitions(configurationPath: String?, commandLine: [String]) throws -> Reloaded {
        try StartupFailure.quietly { () throws -> Reloaded in
            var file: ConfigurationFile?
            if let configurationPath {
                do throws(ConfigurationFile.Failure) {
                    file = try ConfigurationFile(path: configurationPath)
                } catch {
                    throw StartupFailure(error.description)
                }
            }
            // The environment is the process's own: read at start, the same at every reload.
            let environment = try environmentSettings(ProcessInfo.processInfo.environment)
            let arguments = layeredArguments(file, environment, commandLine)
            let serve = try Serve.parse(arguments)
            _ = try serve.numbers()
            return Reloaded(definitions: try serve.servedDefinitions(), definesStreams: serve.definesStreams, settings: settings(in: arguments))
        }
    }

    /// What a reload read: the streams, and the other settings (which need a restart).
    struct Reloaded {
        var definitions: [StreamDefinition]
        /// False when they are the built-in test pattern, for want of any stream.
        var definesStreams: Bool
        var settings: [String: [String]]
    }

    /// Keys that define streams: a reload applies them.
    static let streamKeys: Set<String> = ["pipeline", "pipeline-file", "pipelines", "stream", "set", "rendition"]

    /// Every other flag's words, by key: `port` → `["--port", "8080"]`.
    static func settings(in arguments: [String]) -> [String: [String]] {
        var settings: [String: [String]] = [:]
        var key: String?
        for word in arguments {
            if let name = ConfigurationFile.flagName(word) {
                key = streamKeys.contains(name) ? nil : name
            }
            if let key { settings[key, default: []].append(word) }
        }
        return settings
    }

    private func serve(configurationPath: String?, commandLine: [String]) async throws {
        let level = Logger.Level(rawValue: logLevel) ?? .info
        let environment = ProcessInfo.processInfo.environment
        let journal = JournalLogHandler.stderrIsJournal(environment: environment)
        LoggingSystem.bootstrap { label in
            // Every line escaped: user names, paths and element messages come from outside.
            var handler = EscapingLogHandler(journal ? JournalLogHandler(label: label) : StreamLogHandler.standardError(label: label))
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "framecast")
        if let configurationPath { logger.info("configuration read from \(configurationPath)") }

        if let relayAll {
            try await RelayAllStreams.shared.load(origin: relayAll, logger: logger)
        }
        let definitions = try servedDefinitions()
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
        let inherited: [Int32]
        do throws(SocketActivation.Failure) {
            inherited = try SocketActivation.takeListeningSockets(environment: environment)
        } catch {
            throw StartupFailure(error.description).exitCode
        }
        configuration.host = host ?? "127.0.0.1"
        configuration.port = numbers.port
        // Socket activation replaces --host/--port (systemd bound them); --unix adds to either.
        if !inherited.isEmpty {
            configuration.listeners = inherited.map { .inherited(descriptor: $0) }
            if host != nil { logger.warning("socket activation: serving the sockets systemd passed; --host and --port are ignored") }
        } else if unixPath == nil || host != nil {
            configuration.listeners = [.tcp(host: configuration.host, port: numbers.port)]
        }
        if let unixPath {
            // Only a stale socket file is replaced: one another server still answers on is not.
            if UnixSocketFile.answers(unixPath) {
                throw StartupFailure("--unix \(unixPath): another server is listening on that socket").exitCode
            }
            configuration.listeners.append(.unix(path: unixPath, mode: numbers.unixMode))
        }
        configuration.stream.idleTimeout = numbers.idleTimeout
        configuration.stream.alwaysOn = alwaysOn
        configuration.stream.warmupFrames = numbers.warmupFrames
        configuration.stream.frameTimeout = numbers.frameTimeout
        configuration.sendfile = !noSendfile
        configuration.clientTimeout = numbers.clientTimeout
        configuration.maxClients = numbers.maxClients
        configuration.headerTimeout = numbers.headerTimeout
        configuration.maxRenditions = numbers.maxRenditions
        configuration.allowOrigin = allowOrigin
        configuration.allowHosts = allowHosts
        do {
            if let auth { configuration.access = try AccessControl.single(auth) }
            if let htpasswd { configuration.access = try AccessControl.htpasswd(path: htpasswd) }
        } catch {
            throw StartupFailure(error.description).exitCode
        }
        if let warning = configuration.access?.mixedCostWarning { logger.warning("\(warning)") }
        if let linkKeyFile {
            do throws(LinkKey.Failure) {
                configuration.links = try LinkKeyStore(path: linkKeyFile, logger: logger)
            } catch {
                throw StartupFailure(error.description).exitCode
            }
            if configuration.access == nil {
                logger.notice("--link-key-file without --auth or --htpasswd: every stream is open anyway, so links are not needed to watch")
            }
        }
        if configuration.access == nil, let host, host != "127.0.0.1", host != "localhost", host != "::1" {
            logger.warning("listening on \(host) without authentication: anyone who can reach it sees the cameras (--auth or --htpasswd)")
        }
        if let problem = tlsProblem(numbers) { throw StartupFailure(problem).exitCode }
        if let tlsCert, let tlsKey {
            do throws(TLSCertificates.Failure) {
                let certificates = try TLSCertificates(certificatePath: tlsCert, keyPath: tlsKey)
                configuration.tls = certificates
                logger.info("TLS certificate: \(certificates.summary)")
                if let mode = (try? FileManager.default.attributesOfItem(atPath: tlsKey))?[.posixPermissions] as? NSNumber, mode.intValue & 0o077 != 0 {
                    logger.warning("--tls-key \(tlsKey) can be read by other users (mode \(String(mode.intValue, radix: 8))): chmod 600 it")
                }
            } catch {
                throw StartupFailure(error.description).exitCode
            }
            configuration.hstsMaxAge = numbers.hsts
            configuration.redirectHTTPPort = numbers.redirectHTTP
            configuration.tlsCheckInterval = numbers.tlsCheckInterval
        }
        configuration.webRoot = WebRoot.locate(explicit: webRoot)
        if configuration.webRoot == nil {
            logger.warning("no web root found: `/` will not serve the page (give --web-root)")
        }

        let notifier = SystemdNotifier(environment: environment, logger: logger)
        // The settings in force, to tell which a reload cannot apply.
        let started = try? Self.reloadedDefinitions(configurationPath: configurationPath, commandLine: commandLine)
        let reloader = StreamReloader(
            load: {
                let reloaded = try Self.reloadedDefinitions(configurationPath: configurationPath, commandLine: commandLine)
                // An emptied file (an editor that truncates before it writes, a mistake) would
                // replace every camera with the test pattern.
                if started?.definesStreams == true, !reloaded.definesStreams {
                    throw StartupFailure("the configuration now defines no stream (an empty or truncated file?): the running streams are kept")
                }
                if let started = started?.settings {
                    let changed = Set(started.keys).union(reloaded.settings.keys).filter { started[$0] != reloaded.settings[$0] }
                    if !changed.isEmpty {
                        logger.warning("changed settings take effect at the next start: \(changed.sorted().joined(separator: ", "))")
                    }
                }
                return reloaded.definitions
            },
            notifier: notifier, logger: logger)
        configuration.reloader = reloader
        let names = definitions.map(\.name).sorted().joined(separator: ", ")
        let application: FramecastApplication
        do {
            application = try buildApplication(configuration: configuration, logger: logger) { listeners in
                logger.info("serving \(listeners.map(\.description).joined(separator: " and ")) (streams: \(names))")
                // Listening, every pipeline validated: systemd may send the first clients.
                notifier?.ready(status: "serving \(definitions.count) stream(s)")
            }
        } catch let error as PipelineError {
            throw StartupFailure(error.description).exitCode
        }

        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [.init(service: application)]
        let stopping = Atomic(false)
        services.append(
            .init(
                service: SignalReload(reloader: reloader, certificates: configuration.tls, notifier: notifier, logger: logger) {
                    stopping.store(true, ordering: .relaxed)
                }))
        if let watchdog = Watchdog(
            environment: environment, processID: getpid(), notifier: notifier, probe: HealthProbe(catalog: application.catalog), logger: logger)
        {
            services.append(.init(service: watchdog))
        }
        if let relayAll {
            services.append(.init(service: RelayAllWatcher(origin: relayAll, interval: numbers.relayAllInterval, reloader: reloader, logger: logger)))
        }
        if let seconds = numbers.exitWhenIdle {
            // Its return ends the server as SIGTERM would.
            services.append(.init(service: IdleExit(catalog: application.catalog, seconds: seconds, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup))
        }
        var group = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // Streams end at once on shutdown; this only bounds a connection that will not close.
        group.maximumGracefulShutdownDuration = Duration.milliseconds(1500)
        group.maximumCancellationDuration = Duration.milliseconds(300)
        do {
            try await ServiceGroup(configuration: group).run()
        } catch {
            // Once stopping (SIGTERM, --exit-when-idle), an error is only a connection that would
            // not close in time: the exit is still the one asked for.
            guard !stopping.load(ordering: .relaxed) else {
                logger.warning("shut down with an error: \(error)")
                return
            }
            // A listener that cannot bind (a port in use, a bad socket path) ends here: a status
            // other than 0, so that systemd's Restart=on-failure and scripts see it.
            logger.error("stopped: \(error)")
            throw ExitCode(1)
        }
    }
}

import ArgumentParser
import Foundation
import FramecastServer
import MediaPipeline

/// `framecast link STREAM`: print a signed link to one stream (or its snapshots) that opens
/// without credentials until it expires, made with the server's `--link-key-file`.
struct Link: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print a signed link to one stream, which opens without a password until it expires.",
        discussion: """
            The key file is the server's --link-key-file (given here, or read from the configuration file and FRAMECAST_LINK_KEY_FILE as serve reads it). \
            Prints the path and query (/stream/NAME?token=...), or a whole URL with --base-url. A new key in the file revokes every link.
            """
    )

    @Argument(help: "The stream's name.")
    var stream: String

    @Option(name: .customLong("link-key-file"), help: ArgumentHelp("The server's link key file (it is not made here).", valueName: "FILE"))
    var linkKeyFile: String?

    @Option(help: ArgumentHelp("Take --link-key-file from this configuration file (default: \(ConfigurationFile.defaultPath) when present).", valueName: "FILE"))
    var config: String?

    @Option(parsing: .unconditional, help: ArgumentHelp("How long the link stays valid: seconds, or a number with s, m, h or d (1 second to 10 years).", valueName: "TTL"))
    var ttl = LinkLifetime.standard

    @Flag(help: "A link to the stream's snapshots (/snapshot/NAME) instead of its live stream.")
    var snapshot = false

    @Option(name: .customLong("base-url"), help: ArgumentHelp("Print a whole URL on this base, e.g. https://cams.example.org:8443.", valueName: "URL"))
    var baseURL: String?

    func validate() throws {
        guard StreamName.isValid(stream) else {
            throw StartupFailure(
                "stream name '\(BoundedNumber.quotable(stream))' is not allowed: use lower-case letters, digits, - and _, starting with a letter or digit").exitCode
        }
        if case .failure(let refusal) = LinkLifetime.parse(ttl) { throw StartupFailure("--ttl: \(refusal.description)").exitCode }
        if let baseURL { _ = try Self.base(baseURL) }
    }

    func run() throws {
        let keyPath = try keyFile()
        let loaded: LinkKey.Loaded
        do throws(LinkKey.Failure) {
            loaded = try LinkKey.load(path: keyPath, create: false)
        } catch {
            throw StartupFailure(error.description + " (the server makes the file at its first start with --link-key-file)").exitCode
        }
        if let warning = loaded.warning { FileHandle.standardError.write(Data("framecast: warning: \(warning)\n".utf8)) }
        guard case .success(let lifetime) = LinkLifetime.parse(ttl) else { throw ExitCode(2) }
        let token = LinkToken(stream: stream, scope: snapshot ? .snapshot : .stream, lifetime: lifetime)
        let path = token.path(signedWith: loaded.key)
        print(try baseURL.map { try Self.base($0) + path } ?? path)
        FileHandle.standardError.write(Data("framecast: the link expires at \(token.expiresDescription)\n".utf8))
    }

    /// `--link-key-file`, or the configuration's (file and environment, as `serve` reads them).
    private func keyFile() throws -> String {
        if let linkKeyFile { return linkKeyFile }
        let file = try Serve.configurationFile(explicit: config)
        let environment = try Serve.environmentSettings(ProcessInfo.processInfo.environment)
        if file != nil || !environment.arguments.isEmpty, let path = try Serve.layered(file, environment, []).linkKeyFile {
            return path
        }
        throw StartupFailure("give --link-key-file FILE: the server's link key file (no configuration file names one)").exitCode
    }

    /// The base URL without a trailing slash: `http` or `https`, a host, perhaps a port and a
    /// path prefix (a proxy's); no query or fragment, which the link's own query would follow.
    static func base(_ text: String) throws(ExitCode) -> String {
        guard let components = URLComponents(string: text), let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty, components.query == nil, components.fragment == nil,
            components.user == nil, components.password == nil
        else {
            throw StartupFailure("--base-url must be http:// or https:// with a host and no query, e.g. https://cams.example.org:8443, not '\(BoundedNumber.quotable(text))'").exitCode
        }
        var trimmed = Substring(text)
        while trimmed.hasSuffix("/") { trimmed = trimmed.dropLast() }
        return String(trimmed)
    }
}

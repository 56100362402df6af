import ArgumentParser

/// The command line: `framecast [serve]` and `framecast check`. Parsing, building and running only.
@main
struct Framecast: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "framecast",
        abstract: "Serve GStreamer pipelines' JPEG frames to browsers as MJPEG.",
        subcommands: [Serve.self, Check.self],
        defaultSubcommand: Serve.self
    )
}

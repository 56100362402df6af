import ArgumentParser

/// The command line: `framecast [serve]`, `framecast check` and `framecast link`. Parsing, building and running only.
@main
struct Framecast: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "framecast",
        abstract: "Serve GStreamer pipelines' JPEG frames to browsers as MJPEG.",
        subcommands: [Serve.self, Check.self, Link.self, ConfigurationReference.self],
        defaultSubcommand: Serve.self
    )
}

/// `framecast configuration-reference`: README's table of configuration keys, printed from the
/// flags' own definitions (a test checks that README holds it as printed).
struct ConfigurationReference: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "configuration-reference", abstract: "Print the configuration file's keys as a Markdown table.", shouldDisplay: false)

    func run() {
        print(FlagTable.serve.markdown)
    }
}

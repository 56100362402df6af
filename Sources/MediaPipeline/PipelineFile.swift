import Foundation

/// A pipeline file as users edit it: a gst-launch description that may span lines, hold `#`
/// comment lines (which explain what to change for resolution, rate and quality) and use
/// `${NAME}` / `${NAME:-default}` variables.
public enum PipelineFile {
    /// Reads a file and returns its description: comments removed, lines joined, variables expanded.
    public static func load(path: String, stream: String = "", variables: PipelineVariables = PipelineVariables()) throws(PipelineError) -> String {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadableFile(path: path, reason: (error as NSError).localizedDescription)
        }
        return try PipelineTemplate.expand(text, source: path, stream: stream, variables: variables)
    }

    /// Drops lines whose first non-blank character is `#` and joins the rest with spaces.
    public static func strip(_ text: String) -> String {
        PipelineTemplate.significantLines(text).map(\.line).joined(separator: " ")
    }
}

import Foundation

/// A pipeline file as users edit it: a gst-launch description that may span lines and hold
/// `#` comment lines (which explain what to change for resolution, rate and quality).
public enum PipelineFile {
    /// Reads a file and returns its description with comment lines removed and lines joined.
    public static func load(path: String) throws(PipelineError) -> String {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .unreadableFile(path: path, reason: (error as NSError).localizedDescription)
        }
        let description = strip(text)
        guard !description.isEmpty else { throw .empty }
        return description
    }

    /// Drops lines whose first non-blank character is `#` and joins the rest with spaces.
    public static func strip(_ text: String) -> String {
        text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            .joined(separator: " ")
    }
}

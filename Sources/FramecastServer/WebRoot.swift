import Foundation

/// Finds the page's folder without depending on the working directory.
public enum WebRoot {
    /// An explicit folder is made absolute (against the directory framecast started in, once).
    /// Otherwise: a `Web` folder beside the executable or in one of its parent folders (a checkout's
    /// `.build/debug/framecast` finds the checkout's `Web/`), then `share/framecast/Web` of an
    /// install prefix.
    public static func locate(explicit: String?, executable: String = CommandLine.arguments.first ?? "") -> String? {
        if let explicit {
            let url = URL(fileURLWithPath: explicit).standardizedFileURL
            return url.path
        }
        let executableURL = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
        var folder = executableURL.deletingLastPathComponent()
        for _ in 0..<8 {
            for candidate in [folder.appendingPathComponent("Web"), folder.appendingPathComponent("share/framecast/Web")] {
                if FileManager.default.fileExists(atPath: candidate.appendingPathComponent("index.html").path) {
                    return candidate.standardizedFileURL.path
                }
            }
            let parent = folder.deletingLastPathComponent()
            if parent.path == folder.path { break }
            folder = parent
        }
        return nil
    }
}

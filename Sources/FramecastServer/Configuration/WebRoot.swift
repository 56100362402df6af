import Foundation

/// Finds the project's data folders (`Web`, `pipelines`) without depending on the working directory.
public enum InstallationFolder {
    /// A folder named `name` beside the executable or in one of its parent folders (a checkout's
    /// `.build/debug/framecast` finds the checkout's folders), or in `share/framecast/` of an
    /// install prefix. `marker` is a file that must exist inside it.
    public static func locate(_ name: String, containing marker: String? = nil, executable: String = CommandLine.arguments.first ?? "") -> String? {
        let executableURL = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
        var folder = executableURL.deletingLastPathComponent()
        for _ in 0..<8 {
            for candidate in [folder.appendingPathComponent(name), folder.appendingPathComponent("share/framecast/\(name)")] {
                let probe = marker.map { candidate.appendingPathComponent($0).path } ?? candidate.path
                if FileManager.default.fileExists(atPath: probe) {
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

/// The page's folder.
public enum WebRoot {
    /// An explicit folder is made absolute once, against the directory framecast started in;
    /// otherwise the installation's `Web` folder.
    public static func locate(explicit: String?, executable: String = CommandLine.arguments.first ?? "") -> String? {
        if let explicit {
            return URL(fileURLWithPath: explicit).standardizedFileURL.path
        }
        return InstallationFolder.locate("Web", containing: "index.html", executable: executable)
    }
}

import ArgumentParser
import Foundation
import Yams

/// `--config FILE`: a YAML file whose keys are `serve`'s long flag names (`port: 8080`,
/// `idle-timeout: 10`, `always-on: true`, `allow-host: [a, b]`) and `streams:`, a mapping from
/// stream name to `pipeline:` or `file:`, with `set:` (its variables) and `renditions:` (its named
/// renditions).
///
/// The file becomes the command-line arguments it stands for, and each key is checked by parsing
/// it with `Serve`'s own definitions: the file accepts exactly what the flags do, with the same
/// ranges and messages, and `--help` documents both. A key that fails is reported with the file,
/// line and key.
struct ConfigurationFile {
    /// Read when present and no `--config` is given.
    static let defaultPath = "/etc/framecast/framecast.yaml"

    let path: String
    /// From the top-level keys, in file order: `--port 8080`, `--always-on`, ...
    private(set) var settings: [Argument] = []
    /// From `streams:`: `--stream NAME=...`, `--set NAME.VAR=...`, `--rendition NAME@R=...`.
    private(set) var streams: [Argument] = []

    /// One flag with its values, and where the file said it.
    struct Argument: Equatable {
        let key: String
        let words: [String]
        /// The stream it defines (for `streams:` entries), which a `--stream` of the same name replaces.
        var stream: String? = nil
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Reads and checks the file. Every problem names the file and line.
    init(path: String) throws(Failure) {
        self.path = path
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw Failure(description: "\(path): cannot read the configuration file: \((error as NSError).localizedDescription)")
        }
        let root: Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw Failure(description: "\(path): not valid YAML: \(error)")
        }
        guard let root else { return }  // An empty file: every default.
        guard let mapping = root.mapping else {
            throw failure(at: root, "the file must be a mapping of flag names to values (e.g. `port: 8080`)")
        }
        var seen: Set<String> = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else { throw failure(at: keyNode, "a key must be a name") }
            guard seen.insert(key).inserted else { throw failure(at: keyNode, "`\(key)` is given twice") }
            if key == "streams" {
                try readStreams(value)
            } else if FlagTable.commandOnly.contains(key) {
                throw failure(at: keyNode, "`\(key)` has no meaning in a configuration file")
            } else if let entry = FlagTable.serve.entry(key) {
                settings.append(Argument(key: key, words: try words(for: entry, key: key, value, at: keyNode)))
            } else {
                throw failure(at: keyNode, "unknown key `\(key)` (the keys are serve's flag names without `--`, and `streams`: see `framecast serve --help`)")
            }
        }
    }

    /// The arguments for `key: value`: the value's shape checked against the flag's kind, then
    /// the value itself by parsing it with `Serve`'s definitions (ranges, names, formats).
    private func words(for entry: FlagTable.Entry, key: String, _ value: Node, at keyNode: Node) throws(Failure) -> [String] {
        let flag = "--\(key)"
        var words: [String] = []
        switch value {
        case .scalar(let scalar) where entry.isFlag:
            guard let on = Bool.construct(from: scalar) else { throw failure(at: value, "`\(key)` is true or false, not '\(scalar.string)'") }
            return on ? [flag] : []
        case .scalar(let scalar):
            // A file named in the file is found from the file's folder, as `file:` is.
            words = [flag, Self.pathKeys.contains(key) ? resolve(scalar.string) : scalar.string]
        case .sequence(let sequence) where entry.isRepeating:
            for item in sequence {
                guard let scalar = item.scalar else { throw failure(at: item, "`\(key)`: each item must be a single value") }
                words += [flag, scalar.string]
            }
        case .sequence:
            throw failure(at: value, "`\(key)` takes one value, not a list")
        case .mapping:
            throw failure(at: value, "`\(key)` takes \(entry.isFlag ? "true or false" : entry.isRepeating ? "a value or a list" : "one value"), not a mapping")
        case .alias:
            throw failure(at: value, "`\(key)`: YAML aliases are not supported")
        }
        do {
            // Checked alone: the message is about this key only.
            _ = try StartupFailure.quietly { () throws -> Serve in try Serve.parse(words) }
            return words
        } catch let refused as StartupFailure {
            throw failure(at: value, "`\(key)`: \(refused.message)")
        } catch {
            throw failure(at: value, "`\(key)`: \(Serve.message(for: error))")
        }
    }

    private mutating func readStreams(_ node: Node) throws(Failure) {
        guard let streams = node.mapping else {
            throw failure(at: node, "`streams` must map stream names to `pipeline:` or `file:`")
        }
        for (nameNode, definition) in streams {
            guard let name = nameNode.scalar?.string else { throw failure(at: nameNode, "a stream name must be a name") }
            guard let fields = definition.mapping else {
                throw failure(at: nameNode, "stream `\(name)` must be a mapping with `pipeline:` or `file:`")
            }
            var source: String?
            for (fieldNode, value) in fields {
                guard let field = fieldNode.scalar?.string else { throw failure(at: fieldNode, "stream `\(name)`: a key must be a name") }
                switch field {
                case "pipeline", "file":
                    guard source == nil else { throw failure(at: fieldNode, "stream `\(name)`: give `pipeline` or `file`, not both") }
                    guard let text = value.scalar?.string, !text.isEmpty else {
                        throw failure(at: fieldNode, "stream `\(name)`: `\(field)` must be a non-empty string")
                    }
                    if field == "file" {
                        let file = resolve(text)
                        guard FileManager.default.fileExists(atPath: file) else {
                            throw failure(at: value, "stream `\(name)`: no file \(file)")
                        }
                        source = file
                    } else {
                        source = text
                    }
                case "set":
                    for (variable, text) in try pairs(value, what: "stream `\(name)`: `set`") {
                        self.streams.append(Argument(key: "set", words: ["--set", "\(name).\(variable)=\(text)"], stream: name))
                    }
                case "renditions":
                    for (rendition, spec) in try pairs(value, what: "stream `\(name)`: `renditions`") {
                        self.streams.append(Argument(key: "rendition", words: ["--rendition", "\(name)@\(rendition)=\(spec)"], stream: name))
                    }
                default:
                    throw failure(at: fieldNode, "stream `\(name)`: unknown key `\(field)` (pipeline, file, set, renditions)")
                }
            }
            guard let source else { throw failure(at: nameNode, "stream `\(name)` needs `pipeline:` or `file:`") }
            self.streams.append(Argument(key: "stream", words: ["--stream", "\(name)=\(source)"], stream: name))
        }
    }

    /// Keys whose value is a file or folder.
    static let pathKeys: Set<String> = ["pipeline-file", "pipelines", "htpasswd", "web-root", "unix", "link-key-file"]

    /// A mapping of names to single values (`set:`, `renditions:`).
    private func pairs(_ node: Node, what: String) throws(Failure) -> [(String, String)] {
        guard let mapping = node.mapping else { throw failure(at: node, "\(what) must be a mapping of names to values") }
        var pairs: [(String, String)] = []
        for (key, value) in mapping {
            guard let name = key.scalar?.string, let text = value.scalar?.string else {
                throw failure(at: key, "\(what) must map names to single values")
            }
            pairs.append((name, text))
        }
        return pairs
    }

    /// A file named relative to the configuration file's folder.
    private func resolve(_ file: String) -> String {
        guard !file.hasPrefix("/") else { return file }
        return URL(fileURLWithPath: path).deletingLastPathComponent().appendingPathComponent(file).standardizedFileURL.path
    }

    private func failure(at node: Node, _ reason: String) -> Failure {
        let line = node.mark.map { ", line \($0.line)" } ?? ""
        return Failure(description: "\(path)\(line): \(reason)")
    }

    /// The file's arguments followed by the command line's: a flag on the command line replaces
    /// the file's value for that key, and a `--stream NAME=...` replaces the file's stream NAME.
    func layered(under commandLine: [String], overriding overridden: Set<String> = []) -> [String] {
        let given = Set(commandLine.compactMap(Self.flagName)).union(overridden)
        let redefined = Set(
            commandLine.indices.compactMap { index -> String? in
                let word = commandLine[index]
                let value: String
                if word == "--stream", index + 1 < commandLine.count {
                    value = commandLine[index + 1]
                } else if word.hasPrefix("--stream=") {
                    value = String(word.dropFirst("--stream=".count))
                } else {
                    return nil
                }
                return value.split(separator: "=", maxSplits: 1).first.map(String.init)
            })
        let fileSettings = settings.filter { !given.contains($0.key) }.flatMap(\.words)
        let fileStreams = streams.filter { !redefined.contains($0.stream ?? "") }.flatMap(\.words)
        return fileSettings + fileStreams + commandLine
    }

    /// `--port` and `--port=8080` → `port`.
    static func flagName(_ word: String) -> String? {
        guard word.hasPrefix("--"), word.count > 2 else { return nil }
        return String(word.dropFirst(2).prefix { $0 != "=" })
    }
}

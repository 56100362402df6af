import Foundation
public import MediaPipeline

/// Turns the command line's stream options into named stream definitions, variables expanded.
public struct StreamSources: Sendable {
    /// `--pipeline STRING`: one stream named `main`.
    public var pipeline: String?
    /// `--pipeline-file PATH`: one stream named after the file.
    public var pipelineFile: String?
    /// `--pipelines DIR`: every `DIR/*.pipeline`, named after its file.
    public var pipelinesDirectory: String?
    /// `--stream NAME=FILE_OR_DESCRIPTION`, repeatable.
    public var streams: [String] = []
    public var variables = PipelineVariables()

    public init() {}

    public enum Failure: Error, Sendable, CustomStringConvertible {
        case pipeline(PipelineError)
        case badName(String, source: String)
        case duplicateName(String)
        case badStreamOption(String)
        case emptyDirectory(String)
        case unreadableDirectory(String, String)
        case badRendition(path: String, line: Int, String)

        public var description: String {
            switch self {
            case .pipeline(let error): error.description
            case .badName(let name, let source):
                "\(source): stream name '\(name)' is not allowed: use lower-case letters, digits, - and _, starting with a letter or digit (it appears in URLs)"
            case .duplicateName(let name): "two streams are named '\(name)': rename a file or a --stream"
            case .badStreamOption(let text): "--stream \(text.debugDescription): expected NAME=FILE or NAME=DESCRIPTION"
            case .emptyDirectory(let path): "\(path) holds no *.pipeline file"
            case .unreadableDirectory(let path, let reason): "cannot read \(path): \(reason)"
            case .badRendition(let path, let line, let reason): "\(path), line \(line): \(reason)"
            }
        }
    }

    /// The streams to serve; with no option, the built-in test pattern as stream `test`.
    public func resolve() throws(Failure) -> [StreamDefinition] {
        var definitions: [StreamDefinition] = []
        if let directory = pipelinesDirectory {
            for file in try Self.pipelineFiles(in: directory) {
                definitions.append(try fromFile(file))
            }
        }
        if let pipelineFile { definitions.append(try fromFile(pipelineFile)) }
        if let pipeline { definitions.append(try fromText(pipeline, name: "main", source: "--pipeline")) }
        for option in streams {
            guard let equals = option.firstIndex(of: "="), equals != option.startIndex else { throw .badStreamOption(option) }
            let name = String(option[..<equals])
            let value = String(option[option.index(after: equals)...])
            guard StreamName.isValid(name) else { throw .badName(name, source: "--stream") }
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: value, isDirectory: &isDirectory), !isDirectory.boolValue {
                definitions.append(try fromFile(value, name: name))
            } else {
                definitions.append(try fromText(value, name: name, source: "--stream \(name)"))
            }
        }
        if definitions.isEmpty {
            definitions.append(try fromText(BuiltInPipelines.testPattern, name: "test", source: "built-in test pattern"))
        }
        var seen = Set<String>()
        for definition in definitions where !seen.insert(definition.name).inserted {
            throw .duplicateName(definition.name)
        }
        return definitions
    }

    /// `DIR/*.pipeline`, sorted.
    public static func pipelineFiles(in directory: String) throws(Failure) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw .unreadableDirectory(directory, (error as NSError).localizedDescription)
        }
        let files = names.filter { $0.hasSuffix(".pipeline") }.sorted()
        guard !files.isEmpty else { throw .emptyDirectory(directory) }
        return files.map { URL(fileURLWithPath: directory).appendingPathComponent($0).path }
    }

    /// The stream name a file gives: `front-door.pipeline` → `front-door`.
    public static func streamName(forFile path: String) -> String {
        URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    }

    public func fromFile(_ path: String, name: String? = nil) throws(Failure) -> StreamDefinition {
        let name = name ?? Self.streamName(forFile: path)
        guard StreamName.isValid(name) else { throw .badName(name, source: path) }
        let pipeline: String
        do {
            pipeline = try PipelineFile.load(path: path, stream: name, variables: variables)
        } catch {
            throw .pipeline(error)
        }
        return StreamDefinition(name: name, pipeline: pipeline, renditions: try Self.renditions(inFile: path))
    }

    /// The file's `#@rendition NAME=SPEC` lines (a comment to GStreamer): its named renditions.
    static func renditions(inFile path: String) throws(Failure) -> [String: RenditionRequest] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var named: [String: RenditionRequest] = [:]
        for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard trimmed.hasPrefix("#@rendition") else { continue }
            let spec = trimmed.dropFirst("#@rendition".count).trimmingCharacters(in: .whitespaces)
            switch NamedRendition.parse(spec) {
            case .success(let rendition) where rendition.stream == nil:
                named[rendition.name] = rendition.request
            case .success:
                throw .badRendition(path: path, line: index + 1, "#@rendition takes NAME=SPEC (the file's stream is implied)")
            case .failure(let refusal):
                throw .badRendition(path: path, line: index + 1, refusal.description.replacingOccurrences(of: "--rendition", with: "#@rendition"))
            }
        }
        return named
    }

    private func fromText(_ text: String, name: String, source: String) throws(Failure) -> StreamDefinition {
        do {
            return StreamDefinition(name: name, pipeline: try PipelineTemplate.expand(text, source: source, stream: name, variables: variables))
        } catch {
            throw .pipeline(error)
        }
    }
}
